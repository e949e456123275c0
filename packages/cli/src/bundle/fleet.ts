/**
 * dist/memhp-fleet.cjs: @memhp/fleet (NATS JetStream, the sweep machinery) for the commands that load it only for a
 * `nats://` log (run, replay, diff …); see tsup.config.ts. Errors cross from it by name (FleetInputError), not by class.
 */
export * from '@memhp/fleet';
