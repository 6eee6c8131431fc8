//! The `esign` binary: everything lives in the library so tests drive the same code.

/// mimalloc instead of the C library's allocator: a request allocates and frees many small buffers
/// on whichever worker thread runs it, where glibc's per-arena locking and consolidation showed as a
/// tenth of the service's CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    esign::cli::main()
}
