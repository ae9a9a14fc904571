//! The node-side guard fleetdeck ships (`assets/node/fleetdeck-guard.py`) and its protocol.
