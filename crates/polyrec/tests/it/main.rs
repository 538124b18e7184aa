//! Integration tests over real HTTP on 127.0.0.1: one binary, a module per feature. Each test
//! starts its own server on a fresh data directory (and, where time matters, a manual clock).

mod analytics;
mod behaviors;
mod cli;
mod crash;
mod experiments;
mod internal;
mod isolation;
mod items;
mod models;
mod observability;
mod ops;
mod poison;
mod protection;
mod realtime;
mod recommend;
mod scenarios;
mod support;
mod tenancy;
