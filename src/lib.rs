//! Tuilerie: a STAC catalogue and tile server for French Earth-observation
//! data infrastructures.
//!
//! Layers never reach around each other: [`catalog`] (STAC model and stores),
//! [`api`] (HTTP handlers, thin), plus [`config`] and [`error`].

pub mod api;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod raster;
