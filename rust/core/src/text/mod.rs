//! Answer extraction and format checks on untrusted model output.
//!
//! Every function here is total and linear in its input: SIMD substring search
//! (`memchr::memmem`, searchers built once) and single forward scans, no backtracking.
//!
//! - [`answer`]: answer blocks, boxes, the format checks;
//! - [`normal`]: trimming, decorations, the `exact` normal form;
//! - [`words`]: whole words, yes/no;
//! - [`options`]: option letters.
//!
//! A fast path sits beside the plain rule it must equal, which its tests use as the oracle.

mod answer;
mod normal;
mod options;
mod words;

pub use answer::{answer_block, boxed_run, extract_answer, format_lenient, format_strict, last_boxed, MAX_BOXES};
pub use normal::{exact_equal, normalize_exact, strip_decorations, strip_quotes, trim};
pub use options::{leading_option, option_letters, OptionLetters};
pub use words::{for_each_word, is_whole_word, yes_no, WordSet};
