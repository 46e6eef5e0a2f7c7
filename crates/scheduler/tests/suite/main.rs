//! The scheduler's behaviour on real databases with a real executor.

#![allow(clippy::unwrap_used)]

#[macro_use]
mod harness;

mod alerts;
mod chains;
mod entities;
mod fairness;
mod firing;
mod lifecycle;
mod memory_budget;
mod policies;
mod queues;
mod worker_release;
