//! Forge execution (SPEC §3, §4, §5.3): job queues, hot workers, executors, the phase
//! scheduler and release orchestration.
