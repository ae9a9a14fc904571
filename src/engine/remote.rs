//! Runs on execution nodes: one `ansible-runner worker` per (action, server) over plain SSH,
//! fed and read through ansible-runner's transmit / worker / process stream, which fleetdeck
//! speaks itself, with fleetdeck's guard on the node between the channel and the worker.

pub mod events;
pub mod fleet;
pub mod guard;
pub mod payload;
pub mod probe;
pub mod run;
pub mod ssh;
pub mod stream;
