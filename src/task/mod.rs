//! Tasks: the model and state machine, trigger rules, and one handler per job kind.

pub mod handle_face;
pub mod handle_run;
pub mod handle_trigger;
pub mod model;
pub mod resync;
pub mod trigger;
