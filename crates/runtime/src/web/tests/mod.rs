//! Tests of the web globals and console formatting, through a real QuickJS
//! context with `install` applied.

mod check;
mod console;
mod cost;
mod crypto_clone;
mod encoding;
mod events;
mod fetch;
mod harness;
mod install;
mod intl;
mod intl_node;
mod url;
