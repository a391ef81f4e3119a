//! Command-line glue: parse, dispatch, map errors to exit codes. No logic here.

mod cmd;

use clap::Parser;

// Reading parses records on one thread and frees them on another; glibc's allocator
// handles that poorly (the 1M-person read took twice as long), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = cmd::Cli::parse();
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("opentape: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
