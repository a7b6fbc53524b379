//! Exit codes by class name: `assert_exit!(out, Rejected)` says what a test expects where
//! `Some(1)` did not, and the names are the library's own ([`sct::core::error::ExitCode`]), so a number
//! is written nowhere in the tests.

use sct::core::error::ExitCode;
use std::process::Output;

/// The class an exit code stands for; `None` for a code no class has (a signal, a crash).
pub fn class_of(code: Option<i32>) -> Option<ExitCode> {
    ExitCode::ALL
        .into_iter()
        .find(|class| code == Some(i32::from(class.code())))
}

/// The class a finished command ended with.
pub fn exit_class(out: &Output) -> Option<ExitCode> {
    class_of(out.status.code())
}

/// Panics unless `out` ended with `class`, showing what it ended with, the caller's context and
/// the command's stdout and stderr. Use it through [`assert_exit!`].
#[track_caller]
pub fn expect_exit(out: &Output, class: ExitCode, context: &str) {
    let found = exit_class(out);
    if found == Some(class) {
        return;
    }
    panic!(
        "expected exit {} ({class:?}), got {:?} ({found:?}){}{context}\nstdout: {}\nstderr: {}",
        class.code(),
        out.status.code(),
        if context.is_empty() { "" } else { ": " },
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

/// `assert_exit!(out, Rejected)` or `assert_exit!(out, Usage, "{bin} {args:?}")`: the command's
/// [`Output`] ended with that [`ExitCode`] class.
macro_rules! assert_exit {
    ($out:expr, $class:ident) => {
        $crate::exit::expect_exit(&$out, sct::core::error::ExitCode::$class, "")
    };
    ($out:expr, $class:ident, $($context:tt)+) => {
        $crate::exit::expect_exit(&$out, sct::core::error::ExitCode::$class, &format!($($context)+))
    };
}
pub(crate) use assert_exit;

#[test]
fn every_class_is_found_by_its_number_and_nothing_else_is() {
    for class in ExitCode::ALL {
        assert_eq!(class_of(Some(i32::from(class.code()))), Some(class));
    }
    assert_eq!(class_of(Some(101)), None);
    assert_eq!(class_of(None), None);
}
