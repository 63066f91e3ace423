//! The calling convention of `window.scantrack(...)`: a command and its arguments, passed from
//! JavaScript as one JSON array (`["track", "signup", {"plan": "pro"}]`) so that a call crosses
//! the JS/wasm boundary once, as text. Parsed here into a typed `Command`, or refused with a
//! message that names the call and says what to change. Pure code: tested on the host.
//!
//! JSON has no `undefined`: `JSON.stringify` turns an `undefined` argument into `null`, so a
//! `null` optional argument means "not given".

use scantrack_core::event::{Amount, Conversion, EventInput};
use scantrack_core::json::{self, Value};
use scantrack_core::pipeline::Consent;

use scantrack_core::text::concat;

/// One call of the public API.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Track(EventInput),
    /// `page(properties?)`: a `page_view` with the page's title added by the shell.
    /// Properties that are not an object (here as in `Track`) are the core's to refuse.
    Page(Option<Value>),
    /// `identify({email})` as `Ok(email)`, `identify({email_hash})` as `Err(hash)` (as
    /// `Tracker::identify` takes them: one call for both).
    Identify(Result<String, String>),
    Flush,
    Consent(Consent),
    Reset,
    Debug(bool),
}

const COMMANDS: &str = "track, page, identify, flush, consent, reset, debug, on, ready";

/// Parses `[command, ...args]`.
pub fn parse(text: &str) -> Result<Command, String> {
    let v = match json::parse(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(concat(&[
                "scantrack(...): arguments unreadable (",
                &e.describe(),
                ")",
            ]))
        }
    };
    // The arguments are taken out of the parsed array, not copied: properties can be large.
    let mut args = match v {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    let Some((Value::String(cmd), args)) = args.split_first_mut() else {
        return Err(concat(&[
            "scantrack(...): the first argument must be a command name (",
            COMMANDS,
            ")",
        ]));
    };
    command(cmd, args)
}

/// The command `cmd` with its arguments: borrowed, or moved out where they can be large;
/// `parse` drops what is left in one place.
fn command(cmd: &str, args: &mut [Value]) -> Result<Command, String> {
    let arg = |i: usize| args.get(i);
    match cmd {
        "track" => {
            let name = match arg(0) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(concat(&[
                        "scantrack('track', name): the event name must be a string, not ",
                        other.type_name(),
                    ]))
                }
                None => return Err("scantrack('track', name): the event name is missing".into()),
            };
            let properties = take(args, 1);
            let conversion = match args.get(2) {
                None | Some(Value::Null) => None,
                Some(c @ Value::Object(_)) => Some(conversion(c)?),
                Some(other) => {
                    return Err(concat(&[
                        "scantrack('track', name, properties, conversion): conversion must be {amount, currency}, not ",
                        other.type_name(),
                    ]))
                }
            };
            Ok(Command::Track(EventInput {
                name,
                properties,
                conversion,
                // Not `..Default::default()`: that built a whole default input (name and
                // properties too) and dropped the unused fields.
                url: None,
                referrer: None,
                event_id: None,
            }))
        }
        "page" => Ok(Command::Page(take(args, 0))),
        "identify" => {
            let id = arg(0).unwrap_or(&Value::Null);
            match (id.get("email"), id.get("email_hash")) {
                (Some(Value::String(e)), None) => Ok(Command::Identify(Ok(e.clone()))),
                (None, Some(Value::String(h))) => Ok(Command::Identify(Err(h.clone()))),
                _ => Err("scantrack('identify', ...): pass {email: \"ada@example.com\"} or {email_hash: \"<64 hex>\"} (one of them, as a string)".into()),
            }
        }
        "flush" => Ok(Command::Flush),
        "reset" => Ok(Command::Reset),
        "consent" => match arg(0) {
            Some(Value::String(s)) => Consent::parse(s).map(Command::Consent).ok_or_else(|| {
                concat(&["scantrack('consent', state): state must be \"pending\", \"granted\" or \"denied\", not ", &json::quote(s)])
            }),
            _ => Err("scantrack('consent', state): state must be \"pending\", \"granted\" or \"denied\"".into()),
        },
        "debug" => match arg(0) {
            None | Some(Value::Null) => Ok(Command::Debug(true)),
            Some(Value::Bool(b)) => Ok(Command::Debug(*b)),
            Some(other) => Err(concat(&[
                "scantrack('debug', on): on must be true or false, not ",
                other.type_name(),
            ])),
        },
        other => Err(concat(&[
            "scantrack('",
            other,
            "'): unknown command; use one of ",
            COMMANDS,
        ])),
    }
}

/// Argument `i`, moved out of `args`; `None` when not given (missing or `null`).
fn take(args: &mut [Value], i: usize) -> Option<Value> {
    match core::mem::replace(args.get_mut(i)?, Value::Null) {
        Value::Null => None,
        given => Some(given),
    }
}

fn conversion(c: &Value) -> Result<Conversion, String> {
    let amount = match c.get("amount") {
        Some(Value::Number(n)) => Amount::Number(n.clone()),
        _ => return Err("scantrack('track', ...): conversion.amount must be a number, e.g. {amount: 19.98, currency: \"EUR\"}".into()),
    };
    let currency = match c.get("currency") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(
                "scantrack('track', ...): conversion.currency must be a string, e.g. \"EUR\""
                    .into(),
            )
        }
    };
    Ok(Conversion { amount, currency })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses() {
        let Command::Track(t) =
            parse(r#"["track","buy",{"sku":"A"},{"amount":19.98,"currency":"EUR"}]"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(t.name, "buy");
        assert_eq!(t.properties.unwrap().to_json(), r#"{"sku":"A"}"#);
        assert_eq!(
            t.conversion,
            Some(Conversion {
                amount: Amount::from_f64(19.98),
                currency: "EUR".into()
            })
        );
        assert_eq!(
            parse(r#"["track","x",null,null]"#).unwrap(),
            Command::Track(EventInput::new("x"))
        );
        assert_eq!(parse(r#"["page"]"#).unwrap(), Command::Page(None));
        assert_eq!(
            parse(r#"["identify",{"email":"a@b.co"}]"#).unwrap(),
            Command::Identify(Ok("a@b.co".into()))
        );
        assert_eq!(
            parse(r#"["identify",{"email_hash":"ab"}]"#).unwrap(),
            Command::Identify(Err("ab".into()))
        );
        assert_eq!(parse(r#"["flush"]"#).unwrap(), Command::Flush);
        assert_eq!(parse(r#"["reset"]"#).unwrap(), Command::Reset);
        assert_eq!(
            parse(r#"["consent","denied"]"#).unwrap(),
            Command::Consent(Consent::Denied)
        );
        assert_eq!(parse(r#"["debug",false]"#).unwrap(), Command::Debug(false));
        assert_eq!(parse(r#"["debug"]"#).unwrap(), Command::Debug(true));
    }

    /// Properties that are not an object are refused by the core (one check, one message),
    /// which the shell reports as an `invalid_call` like a refusal of the parser.
    #[test]
    fn properties_that_are_not_an_object_are_refused_by_the_core() {
        use scantrack_core::entropy::SeededEntropy;
        use scantrack_core::pipeline::Startup;
        use scantrack_core::{Config, Millis, Pipeline};
        let mut p = Pipeline::new(
            Config::new("site_demo").unwrap(),
            Box::new(SeededEntropy::new(1)),
            str::to_lowercase,
            Startup::default(),
            Millis(0),
        );
        for (text, needle) in [
            (
                r#"["track","x",[1]]"#,
                "properties: must be an object like {\"plan\": \"pro\"}, not an array",
            ),
            (
                r#"["track","x","props"]"#,
                "properties: must be an object like {\"plan\": \"pro\"}, not a string",
            ),
        ] {
            let Command::Track(input) = parse(text).unwrap() else {
                panic!("{text}")
            };
            let e = p.track(input, Millis(0)).unwrap_err().message();
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(matches!(parse(r#"["page",5]"#), Ok(Command::Page(Some(_)))));
    }

    #[test]
    fn hostile_arguments_get_errors_that_name_the_call() {
        for (text, needle) in [
            ("", "unreadable"),
            ("{}", "command name"),
            ("[]", "command name"),
            ("[42]", "command name"),
            (r#"["trak","x"]"#, "unknown command"),
            (r#"["track"]"#, "name is missing"),
            (r#"["track",null]"#, "must be a string, not null"),
            (r#"["track",12]"#, "not a number"),
            (r#"["track","x",null,5]"#, "conversion must be"),
            (
                r#"["track","x",null,{"amount":"1","currency":"EUR"}]"#,
                "amount must be a number",
            ),
            (
                r#"["track","x",null,{"amount":1}]"#,
                "currency must be a string",
            ),
            (r#"["identify","a@b.co"]"#, "{email"),
            (
                r#"["identify",{"email":"a@b.co","email_hash":"x"}]"#,
                "one of them",
            ),
            (r#"["consent","maybe"]"#, "\"maybe\""),
            (r#"["debug","yes"]"#, "true or false"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
