/**
 * Sweep files expand like GitHub Actions' job matrix ("Using a matrix for your jobs", docs.github.com:
 * product of the axes; exclude first; include extends the combinations it does not contradict on an original
 * axis, else adds its own), with stable point ids and errors located in the file.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseSweep, pointId, type Sweep } from '../src/index.js';

const SCENARIO = `memhp: 1
machine:
  arch: x86_64
  kernel: \${{ matrix.kernel }}
  nodes: [{ id: 0, memory: [{ start: 0, size: 4G }] }]
steps:
  - add_memory: { node: 0, start: 4G, size: "\${{ matrix.size }}" }
`;
const sweep = (matrix: string, scenario = SCENARIO): Sweep => parseSweep('grid.yaml', `${scenario}matrix:\n${matrix}`);
const labels = (s: Sweep): string[] => s.points.map((p) => p.label);

describe('matrix expansion', () => {
  it('is the cartesian product of the axes, first axis outermost', () => {
    const s = sweep('  kernel: ["6.1", "6.18"]\n  size: [1G, 2G]\n');
    expect(labels(s)).toEqual(['kernel=6.1 size=1G', 'kernel=6.1 size=2G', 'kernel=6.18 size=1G', 'kernel=6.18 size=2G']);
    expect(s.points[3]!.scenario).toMatchObject({ machine: { kernel: '6.18' }, steps: [{ add_memory: { size: '2G' } }] });
    expect(s.points[0]!.scenario).not.toHaveProperty('matrix');
  });

  it('removes with exclude every combination matching all of the entry\'s keys', () => {
    const s = sweep('  kernel: ["6.1", "6.18"]\n  size: [1G, 2G]\n  exclude:\n    - { kernel: "6.1", size: 2G }\n');
    expect(labels(s)).toEqual(['kernel=6.1 size=1G', 'kernel=6.18 size=1G', 'kernel=6.18 size=2G']);
  });

  it('extends with include the combinations it does not contradict, and adds one when it contradicts all', () => {
    // Every combination must carry the key the scenario uses: the first entry (no original axis) extends all.
    const t = parseSweep(
      'grid.yaml',
      `${SCENARIO.replace('steps:', 'name: "${{ matrix.note }}"\nsteps:')}matrix:\n  kernel: ["6.1", "6.18"]\n  size: [1G]\n  include:\n    - { note: base }\n    - { kernel: "6.18", note: new }\n    - { kernel: "5.10", size: 1G, note: old }\n`,
    );
    expect(labels(t)).toEqual(['kernel=6.1 size=1G note=base', 'kernel=6.18 size=1G note=new', 'kernel=5.10 size=1G note=old']);
  });

  it('keeps a value\'s type when a string is only the expression, and interpolates it inside a string', () => {
    const s = parseSweep('g.yaml', `memhp: 1\nname: "size \${{ matrix.n }} blocks"\nmachine: { blocks: "\${{ matrix.n }}" }\nmatrix:\n  n: [3]\n`);
    expect(s.points[0]!.scenario).toEqual({ memhp: 1, name: 'size 3 blocks', machine: { blocks: 3 } });
  });

  it('gives each point an id that is a hash of its resolved scenario, not of the order of the axes', () => {
    const a = sweep('  kernel: ["6.1", "6.18"]\n  size: [1G, 2G]\n');
    const b = sweep('  size: [2G, 1G]\n  kernel: ["6.18", "6.1"]\n');
    expect(new Set(a.points.map((p) => p.id))).toEqual(new Set(b.points.map((p) => p.id)));
    expect(a.points[0]!.id).toBe(pointId(a.points[0]!.scenario));
    expect(a.points[0]!.id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('sweep file errors are located', () => {
  const err = (text: string): string => {
    try {
      parseSweep('grid.yaml', text);
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  it('names the line of a reference to a value the combination lacks', () => {
    expect(err(`${SCENARIO}matrix:\n  kernel: ["6.1"]\n`)).toBe('grid.yaml:7:45: field steps[0].add_memory.size: ${{ matrix.size }}: no such matrix value in this combination (keys: kernel)');
  });
  it('names an axis that is not a list, an unused axis, and an exclude key that is no axis', () => {
    expect(err(`${SCENARIO}matrix:\n  kernel: "6.1"\n  size: [1G]\n`)).toMatch(/^grid\.yaml:9:11: field matrix\.kernel: axis kernel is a list of values/);
    expect(err(`${SCENARIO}matrix:\n  kernel: ["6.1"]\n  size: [1G]\n  page: [4K]\n`)).toMatch(/^grid\.yaml:11:3: field matrix\.page: axis page is not used/);
    expect(err(`${SCENARIO}matrix:\n  kernel: ["6.1"]\n  size: [1G]\n  exclude: [{ sise: 1G }]\n`)).toMatch(/^grid\.yaml:11:15: field matrix\.exclude\[0\]\.sise: exclude names "sise", which is not an axis/);
  });
  it('says when exclude removes everything and when a file has no matrix', () => {
    expect(err(`${SCENARIO}matrix:\n  kernel: ["6.1"]\n  size: [1G]\n  exclude: [{ kernel: "6.1" }]\n`)).toMatch(/the matrix is empty/);
    expect(err(SCENARIO)).toMatch(/^grid\.yaml:1:1: no matrix:/);
  });
});

describe('properties', () => {
  it('without include or exclude, there are exactly the product of the axis lengths points, all ids distinct', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), (lens) => {
        const axes = lens.map((n, i) => `  a${i}: [${Array.from({ length: n }, (_, j) => j).join(', ')}]`).join('\n');
        const refs = lens.map((_, i) => `  v${i}: "\${{ matrix.a${i} }}"`).join('\n');
        const s = parseSweep('p.yaml', `memhp: 1\nmachine:\n${refs}\nmatrix:\n${axes}\n`);
        expect(s.points).toHaveLength(lens.reduce((a, b) => a * b, 1));
        expect(new Set(s.points.map((p) => p.id)).size).toBe(s.points.length);
      }),
      { numRuns: 200 },
    );
  });
});
