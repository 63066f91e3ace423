//! Browser tests (`wasm-pack test --headless --chrome`): the core, compiled to wasm32, checked
//! against the browser's own implementations of what it must match byte for byte:
//! `Date.prototype.toISOString`, `JSON.stringify`, `crypto.subtle.digest("SHA-256")`,
//! `String.prototype.toLowerCase` (the shipped wasm lower-cases non-ASCII addresses with it,
//! the host with `str::to_lowercase`), and a delivery round in the page with the browser's
//! clock and `crypto.getRandomValues`.

#![cfg(target_arch = "wasm32")]

use js_sys::{Date, JsString, Uint8Array, JSON};
use scantrack::core::entropy::Entropy;
use scantrack::core::event::EventInput;
use scantrack::core::json::{self, Value};
use scantrack::core::pipeline::{Report, Startup};
use scantrack::core::response::{HttpResponse, Outcome};
use scantrack::core::time::format_rfc3339_millis;
use scantrack::core::{pii, Config, Millis, Pipeline};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// `crypto.getRandomValues`, as the shell will use it.
struct BrowserEntropy(web_sys::Crypto);

impl Entropy for BrowserEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0
            .get_random_values_with_u8_array(buf)
            .expect("getRandomValues");
    }
}

fn crypto() -> web_sys::Crypto {
    web_sys::window().expect("window").crypto().expect("crypto")
}

/// `String.prototype.toLowerCase`, as js/host.js's `st_lower` gives it to the shipped wasm.
fn browser_lower(s: &str) -> String {
    JsString::from(s).to_lower_case().into()
}

/// Every character alone (between spaces), and `Σ` after and before each, lower-cases in the
/// browser exactly as `str::to_lowercase` does: an address hashed in the browser hashes as on
/// the host. Fails when the browser and the toolchain both map a character but differently, or
/// when many characters are mapped by only one of them (see MAX_VERSION_SKEW_CHARS).
#[wasm_bindgen_test]
fn the_browsers_to_lower_case_is_str_to_lowercase_for_every_character() {
    // A character that one side maps and the other leaves alone is a Unicode version skew
    // between the browser's ICU and the Rust toolchain (a newly encoded case pair), which
    // moves with releases of either and is tolerated (within a small count); any character
    // that both map, but differently, is a real disagreement and fails.
    const MAX_VERSION_SKEW_CHARS: usize = 64;
    let chars: Vec<char> = (0..=0x10FFFF).filter_map(char::from_u32).collect();
    let skewed = |c: char| {
        let alone = c.to_string();
        let (browser, rust) = (browser_lower(&alone), alone.to_lowercase());
        browser != rust && (browser == alone || rust == alone)
    };
    let mut skew = Vec::new();
    for context in [" {} ", " Α{}Σ ", " ΑΣ{}Α "] {
        let (before, after) = context.split_once("{}").unwrap();
        let mut text = String::with_capacity(chars.len() * 8);
        for &c in &chars {
            text.push_str(before);
            text.push(c);
            text.push_str(after);
        }
        if browser_lower(&text) == text.to_lowercase() {
            continue;
        }
        let mut differ = Vec::new();
        for &c in &chars {
            let s = [before, c.encode_utf8(&mut [0; 4]), after].concat();
            if browser_lower(&s) == s.to_lowercase() {
                continue;
            }
            if skewed(c) {
                if !skew.contains(&c) {
                    skew.push(c);
                }
            } else {
                differ.push(format!(
                    "{s:?}: {:?} vs {:?}",
                    browser_lower(&s),
                    s.to_lowercase()
                ));
            }
        }
        assert!(
            differ.is_empty(),
            "toLowerCase differs from to_lowercase: {differ:#?}"
        );
    }
    assert!(
        skew.len() <= MAX_VERSION_SKEW_CHARS,
        "{} characters are lower-cased by only one of the browser and Rust: {skew:?}",
        skew.len()
    );
}

#[wasm_bindgen_test]
fn timestamps_match_to_iso_string() {
    let samples: Vec<f64> = vec![
        0.0,
        1.0,
        951_782_400_000.0,     // 2000-02-29
        1_709_164_800_999.0,   // 2024-02-29T00:00:00.999Z
        1_795_428_001_500.0,   // 2026-11-23T10:00:01.500Z
        4_102_444_799_999.0,   // 2099-12-31T23:59:59.999Z
        4_107_542_400_000.0,   // 2100-03-01 (not a leap year)
        253_402_300_799_999.0, // 9999-12-31T23:59:59.999Z
    ];
    let mut t = 0.0f64;
    let mut all = samples.clone();
    for _ in 0..2000 {
        t = (t * 1.7 + 86_399_997.0) % 253_402_300_799_999.0;
        all.push(t.floor());
    }
    for ms in all {
        let ours = format_rfc3339_millis(Millis(ms as u64));
        let browser: String = Date::new(&JsValue::from_f64(ms)).to_iso_string().into();
        assert_eq!(ours, browser, "at {ms}");
    }
}

#[wasm_bindgen_test]
fn json_writer_matches_json_stringify() {
    let strings = [
        "plain",
        "quote \" backslash \\ slash /",
        "controls \u{0} \u{1} \u{8} \u{9} \u{a} \u{c} \u{d} \u{1f} \u{7f}",
        "unicode é 漢字 😀 \u{2028} \u{2029}",
        "",
    ];
    for s in strings {
        let mut ours = String::new();
        json::write_str(&mut ours, s);
        let browser: String = JSON::stringify(&JsValue::from_str(s)).unwrap().into();
        assert_eq!(ours, browser, "{s:?}");
    }
    let texts = [
        r#"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-0.5,"g":1e21,"h":1.5e-7}"#,
        r#"{"emoji":"\ud83d\ude00","esc":"\n\t\u0001","nested":[[[{"x":[]}]]]}"#,
        r#"[1,2.25,-3,1e-7,123456789012345680000,0.1]"#,
    ];
    for text in texts {
        let browser: String = JSON::stringify(&JSON::parse(text).unwrap()).unwrap().into();
        // Ours keeps number text as given, so compare with the browser's own re-serialisation
        // of the browser's canonical text.
        let ours = json::parse(&browser).unwrap().to_json();
        assert_eq!(ours, browser, "{text}");
    }
    for x in [
        0.0,
        -0.0,
        1.0,
        19.98,
        0.1 + 0.2,
        1e21,
        1e-7,
        123.456e10,
        -5e-324,
        f64::MAX,
    ] {
        let ours = json::Number::from_f64(x).unwrap();
        let browser: String = JSON::stringify(&JsValue::from_f64(x)).unwrap().into();
        assert_eq!(ours.as_str(), browser, "{x}");
    }
}

#[wasm_bindgen_test]
async fn email_hash_matches_web_crypto_sha256() {
    for email in [
        "  Ada@Example.COM ",
        "john_smith@gmail.com",
        "ünï@exämple.org",
        "ÅSA@EXAMPLE.SE",
        "ΟΔΥΣΣΕΥΣ@EXAMPLE.GR",
        "İLKER@EXAMPLE.COM.TR",
    ] {
        let standard = pii::EmailNormalization::Standard;
        let normalized = pii::normalize_email(email, standard, browser_lower).unwrap();
        assert_eq!(
            Ok(&normalized),
            pii::normalize_email(email, standard, str::to_lowercase).as_ref(),
            "{email}: the browser's lowering is the host's"
        );
        let data = Uint8Array::from(normalized.as_bytes());
        let promise = crypto()
            .subtle()
            .digest_with_str_and_buffer_source("SHA-256", &data)
            .unwrap();
        let digest = Uint8Array::new(&JsFuture::from(promise).await.unwrap());
        let hex: String = digest.to_vec().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(pii::sha256_hex(&normalized), hex, "{email}");
    }
}

#[wasm_bindgen_test]
fn a_delivery_round_runs_in_the_browser() {
    let now = || Millis(Date::now() as u64);
    let mut p = Pipeline::new(
        Config::new("site_demo").unwrap(),
        Box::new(BrowserEntropy(crypto())),
        browser_lower,
        Startup::default(),
        now(),
    );
    let props = json::parse(r#"{"plan":"pro","contact":"ada@example.com"}"#).unwrap();
    let id = p
        .track(EventInput::new("signup").with_properties(props), now())
        .unwrap();
    p.identify_email("ada@example.com", now()).unwrap();
    p.flush(now());
    let t = p.poll_transmit(now()).expect("a batch is due after flush");
    // The browser's JSON.parse reads the body, and no raw email is in it.
    let parsed = JSON::parse(&t.body).expect("body is JSON");
    let events = js_sys::Reflect::get(&parsed, &"events".into()).unwrap();
    let first = js_sys::Reflect::get(&events, &0.into()).unwrap();
    let event_id = js_sys::Reflect::get(&first, &"event_id".into()).unwrap();
    assert_eq!(event_id.dyn_into::<JsString>().unwrap(), id.as_str());
    assert!(!t.body.contains("ada@example.com"), "{}", t.body);
    p.handle_response(
        t.id,
        Outcome::Http(HttpResponse::status(200).with_body(r#"{"accepted":1,"duplicates":0}"#)),
        now(),
    );
    assert_eq!(p.queued(), 0);
    assert_eq!(
        p.poll_report(),
        Some(Report::Delivered {
            event_ids: vec![id]
        })
    );
    let stored = p.flush_storage(&|_| None);
    assert!(stored
        .iter()
        .any(|op| op.key == "scantrack:site_demo:session"));
    let session = Value::String(p.session_id().to_string());
    assert!(scantrack::core::uuid::is_canonical(
        session.as_str().unwrap()
    ));
}
