//! The integration tests of custos-cli, one binary: each module was a test file of its own.

mod assess_cli;
mod common;
mod console_browser;
mod contract;
mod dialogue_cli;
mod emergency_cli;
mod evidence_cli;
mod follow_up_cli;
mod hardening;
mod hostile;
mod integrity;
mod layering;
mod migrate_cli;
mod multi_process_cli;
mod notice_cli;
mod order_cli;
mod pipes;
mod policy_check_cli;
mod public_record_cli;
mod requester_cli;
mod seal_cli;
mod service_cli;
mod staff_cli;
mod transparency_cli;
mod witness_cli;
mod witness_node_cli;
