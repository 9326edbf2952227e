//! The `mandate` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    mandate_server::cli::run()
}
