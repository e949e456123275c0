import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gridRows, itemInRow, PER_ROW, rowsToRepaint } from '../viewer/grid.js';

interface Cell {
  k: number;
  look: number;
}

const cells = fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { maxLength: 400 }).map((ks) => ks.sort((a, b) => a - b).map((k) => ({ k, look: k % 3 })));
const grid = (cs: readonly Cell[]) => gridRows(cs, (c) => c.k, (c) => String(c.look));
const px = { width: 708, height: 100 };

describe('viewer grids', () => {
  it('lays cells out 64 to a row, leaving out empty rows, and finds the cell under any number', () => {
    fc.assert(
      fc.property(cells, fc.integer({ min: 0, max: 5100 }), (cs, probe) => {
        const g = grid(cs);
        const rows = [...new Set(cs.map((c) => Math.floor(c.k / PER_ROW)))];
        expect(g.rowStart).toEqual(rows.map((r) => r * PER_ROW));
        // a hole: the row before is not the row above
        expect(g.gaps).toEqual(rows.flatMap((r, i) => (i > 0 && r !== rows[i - 1]! + 1 ? [i] : [])));
        rows.forEach((r, i) => expect(cs.slice(g.first[i], g.first[i + 1]).every((c) => Math.floor(c.k / PER_ROW) === r)).toBe(true));
        const row = rows.indexOf(Math.floor(probe / PER_ROW));
        expect(row < 0 ? undefined : itemInRow(g, row, probe)).toBe(cs.find((c) => c.k === probe));
      }),
    );
  });

  it('repaints exactly the rows whose cells look different, and all of it when the rows or the canvas differ', () => {
    fc.assert(
      fc.property(cells, fc.array(fc.nat(399)), (cs, changed) => {
        const before = grid(cs);
        const after = cs.map((c, i) => (changed.includes(i) ? { ...c, look: c.look + 1 } : c));
        const g = grid(after);
        const rows = [...new Set(changed.filter((i) => i < cs.length).map((i) => before.rowStart.indexOf(Math.floor(cs[i]!.k / PER_ROW) * PER_ROW)))].sort((a, b) => a - b);
        expect(rowsToRepaint({ ...before, ...px }, { ...g, ...px })).toEqual(rows);
        expect(rowsToRepaint(undefined, { ...g, ...px })).toBeNull();
        expect(rowsToRepaint({ ...before, ...px }, { ...g, ...px, height: 101 })).toBeNull();
        // a cell added in a row of its own, or moved to another row: the rows differ
        const moved = grid([...cs, { k: 5000 + PER_ROW * 2, look: 0 }]);
        expect(rowsToRepaint({ ...before, ...px }, { ...moved, ...px })).toBeNull();
      }),
    );
  });

  it('sees a cell that appears in a row that has others as a change of that row', () => {
    const g1 = grid([{ k: 0, look: 0 }, { k: 70, look: 0 }]);
    const g2 = grid([{ k: 0, look: 0 }, { k: 70, look: 0 }, { k: 71, look: 0 }]);
    expect(rowsToRepaint({ ...g1, ...px }, { ...g2, ...px })).toEqual([1]);
  });
});
