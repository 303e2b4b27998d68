//! Errors from layered clients (reqwest over hyper over rustls) say the useful part in their
//! causes; `Display` of the outer one alone is often just "error sending request".

/// An error and its causes on one line, outermost first.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_is_on_the_line() {
        let err = Outer(std::io::Error::other("connection reset"));
        assert_eq!(describe(&err), "outer: connection reset");
    }
}
