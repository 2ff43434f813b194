//! Durability: restarts, kill -9 during pushes, garbage collection under concurrent pushes, upload expiry.
