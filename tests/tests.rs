//! The integration tests: one binary (one link of polars), a module per topic in `it/`.
//! Each runs the real `opentape` binary in a temporary folder through `common`'s helpers.

mod common;

mod it {
    mod chain;
    mod fuzz_readers;
    mod inspect;
    mod interrupt;
    mod mongoexport;
    mod pipes;
    mod release;
    mod report;
    mod robustness;
    mod sample;
    mod series;
    mod store;
    mod verify;
}
