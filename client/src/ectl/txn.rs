//! `ectl txn`: reads a transaction from stdin and commits it.

use std::io::{BufRead, Write};

use ectd_client::proto::etcdserverpb::TxnRequest;

use super::args::TxnArgs;
use super::exit::CtlError;
use super::txn_syntax::{parse_compare, parse_request, trim_space};
use super::Context;

/// Reads the three sections of a transaction (see [`super::txn_syntax`]).
///
/// In interactive mode each section is announced on `prompt` first, with
/// etcdctl's wording. Every section, the last included, must be ended by an
/// empty line: input that stops early is rejected (`EOF`) rather than
/// committed half-written.
pub fn read_txn(
    input: &mut impl BufRead,
    interactive: bool,
    prompt: &mut impl Write,
) -> Result<TxnRequest, CtlError> {
    let mut announce = |text: &str| -> Result<(), CtlError> {
        if interactive {
            writeln!(prompt, "{text}")?;
            prompt.flush()?;
        }
        Ok(())
    };
    let mut txn = TxnRequest::default();

    announce("compares:")?;
    while let Some(line) = read_section_line(input)? {
        txn.compare.push(parse_compare(&line)?);
    }
    announce("success requests (get, put, del):")?;
    while let Some(line) = read_section_line(input)? {
        txn.success.push(parse_request(&line)?);
    }
    announce("failure requests (get, put, del):")?;
    while let Some(line) = read_section_line(input)? {
        txn.failure.push(parse_request(&line)?);
    }
    Ok(txn)
}

/// The next non-blank line of the current section, trimmed, or `None` at
/// the blank line that ends the section.
fn read_section_line(input: &mut impl BufRead) -> Result<Option<Vec<u8>>, CtlError> {
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(CtlError::invalid_input("EOF"));
    }
    let trimmed = trim_space(&line);
    if trimmed.is_empty() {
        Ok(None)
    } else {
        Ok(Some(trimmed.to_vec()))
    }
}

/// Runs `txn` and renders its response into `out`.
pub async fn run(ctx: &Context<'_>, args: &TxnArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let request = {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        read_txn(&mut stdin.lock(), args.interactive, &mut stdout.lock())?
    };
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.txn(request.clone()).await?;
    let executed = if resp.succeeded {
        &request.success
    } else {
        &request.failure
    };
    printer.txn(out, &resp, executed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str, interactive: bool) -> (Result<TxnRequest, CtlError>, String) {
        let mut prompt = Vec::new();
        let result = read_txn(&mut input.as_bytes(), interactive, &mut prompt);
        (result, String::from_utf8(prompt).unwrap())
    }

    #[test]
    fn three_sections() {
        let (txn, prompt) = read(
            "mod(\"k1\") > \"0\"\nvalue(\"k2\") = \"v2\"\n\nput k1 \"new v1\"\nget k1\n\nget k2\n\n",
            false,
        );
        let txn = txn.unwrap();
        assert_eq!(
            (txn.compare.len(), txn.success.len(), txn.failure.len()),
            (2, 2, 1)
        );
        assert_eq!(prompt, "");
    }

    #[test]
    fn blank_lines_may_hold_white_space_and_crlf() {
        let (txn, _) = read("  \r\n  get k1  \r\n \t \n\n", false);
        let txn = txn.unwrap();
        assert_eq!(
            (txn.compare.len(), txn.success.len(), txn.failure.len()),
            (0, 1, 0)
        );
    }

    #[test]
    fn interactive_prompts() {
        let (txn, prompt) = read("\n\n\n", true);
        assert_eq!(txn.unwrap(), TxnRequest::default());
        assert_eq!(
            prompt,
            "compares:\nsuccess requests (get, put, del):\nfailure requests (get, put, del):\n"
        );
    }

    #[test]
    fn every_section_must_be_terminated() {
        for input in ["", "\n\n", "\nget k\n\n", "\n\nget k\n", "\n\nget k"] {
            let err = read(input, false).0.unwrap_err();
            assert_eq!((err.code, err.message.as_str()), (3, "EOF"), "{input:?}");
        }
    }

    #[test]
    fn parse_errors_stop_reading() {
        let err = read("bogus\n\n\n", false).0.unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (3, "malformed comparison: bogus")
        );
    }
}
