#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The explorer page in a real headless Chromium, and the OpenAPI document against the answers,
//! on a router that relayed real messages (Starknet → L1, L1 → Starknet, Starknet → appchain) and
//! parked one (an unknown destination).
//!
//! - Chromium (Debian's, driven by playwright-core from the tool cache): the table shows every
//!   message in its stage; a click opens a message's timeline, the same transitions as the API;
//!   search and the stage filter narrow the table; the parked message shows its reason.
//! - OpenAPI: `GET /openapi.json` lists exactly the routes the router serves; every route is
//!   requested and every JSON answer validates against the schema the document gives for its
//!   status. Then schemathesis (PyPI) runs property tests generated from the document against the
//!   router (every operation but the backup, which would write folders where it is told): the
//!   server accepts what the document allows, refuses what it forbids, and answers only the
//!   statuses and media types it lists.
//! - `/metrics`: promtool (Debian's prometheus) lints the exposition (every family typed and with
//!   help text).
//!
//! `XROUTE_SCREENSHOT=FILE` keeps the page's screenshot (docs/explorer.png is one).

use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
};

use alloy::primitives::{B256, U256};
use eyre::{Result, bail};
use serde_json::{Value, json};
use starknet_rust::core::types::Felt;
use xroute_tests::stack::L1_DOMAIN;

use crate::e2e_relay::{DELIVERY, Env, word};

/// The browser and its driver, from `scripts/bootstrap`.
fn browser_tools() -> Result<(PathBuf, PathBuf)> {
    let driver = std::env::var_os("XROUTE_PLAYWRIGHT")
        .map(PathBuf::from)
        .ok_or_else(|| {
            eyre::eyre!("XROUTE_PLAYWRIGHT is not set: run `eval \"$(scripts/bootstrap --print)\"`")
        })?;
    let chromium = std::env::var_os("XROUTE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !driver.join("package.json").is_file() || !chromium.is_file() {
        bail!(
            "the browser test needs playwright-core at {} and Chromium at {}: run scripts/bootstrap",
            driver.display(),
            chromium.display()
        );
    }
    Ok((driver, chromium))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_and_the_openapi_document_show_what_the_router_knows() -> Result<()> {
    let (driver, chromium) = browser_tools()?;
    let mut env = Env::start().await?;
    let sn = env.stack.starknets[0];
    let app3 = env.stack.starknets[1];
    let l1_app = B256::left_padding_from(env.stack.l1_app.as_slice());
    let mut delivered = env
        .send_from_starknet(0, L1_DOMAIN, l1_app, &[vec![Felt::ONE], vec![Felt::TWO]])
        .await?;
    delivered.push(
        env.send_from_l1(sn.domain, word(sn.app), vec![U256::from(5)], 0)
            .await?,
    );
    delivered.extend(
        env.send_from_starknet(0, app3.domain, word(app3.app), &[vec![Felt::THREE]])
            .await?,
    );
    let parked = env
        .send_from_starknet(0, 99, l1_app, &[vec![Felt::from(4u8)]])
        .await?[0];
    env.wait_for(&delivered, "delivered", DELIVERY).await?;
    env.wait_for(&[parked], "parked", DELIVERY).await?;

    // The page, in Chromium.
    let clicked = delivered[0];
    let api = env.message(&clicked).await?;
    let parked_view = env.message(&parked).await?;
    let screenshot = std::env::var_os("XROUTE_SCREENSHOT").map(PathBuf::from);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/explorer.cjs");
    let url = format!("{}/", env.router.api);
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .args([&url, &clicked.to_string(), &parked.to_string()])
        .arg(screenshot.clone().unwrap_or_default())
        .env("XROUTE_PLAYWRIGHT", &driver)
        .env("XROUTE_CHROMIUM", &chromium)
        .output()
        .await?;
    if !out.status.success() {
        bail!(
            "the browser run failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let seen: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(seen["errors"], json!([]), "script errors on the page");
    let (before, after) = (
        seen["refreshesBefore"].as_u64().unwrap(),
        seen["refreshesAfter"].as_u64().unwrap(),
    );
    assert!(
        after > before,
        "the page refreshes itself: {before} refreshes, then {after} after a wait of up to 10 s"
    );
    let rows: HashMap<String, String> = seen["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["stage"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for id in &delivered {
        assert_eq!(
            rows.get(&id.to_string()).map(String::as_str),
            Some("delivered"),
            "{seen:#}"
        );
    }
    assert_eq!(
        rows.get(&parked.to_string()).map(String::as_str),
        Some("parked")
    );
    let history: Vec<String> = api["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} → {}",
                t["from"].as_str().unwrap().to_lowercase(),
                t["to"].as_str().unwrap().to_lowercase()
            )
        })
        .collect();
    assert!(history.len() >= 4, "{api:#}");
    assert_eq!(
        seen["timeline"],
        json!(history),
        "the clicked message's timeline"
    );
    assert_eq!(seen["detailStage"], "delivered");
    assert_eq!(
        seen["relays"].as_u64(),
        Some(api["relays"].as_array().unwrap().len() as u64)
    );
    assert_eq!(
        seen["searched"],
        json!([parked.to_string()]),
        "search by id"
    );
    assert_eq!(
        seen["reason"].as_str().unwrap(),
        format!("Parked: {}", parked_view["reason"].as_str().unwrap())
    );
    assert_eq!(seen["parkedFilter"], json!(["parked"]), "the stage filter");
    let starknet_to_l1 = seen["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "starknet → ethereum")
        .unwrap_or_else(|| panic!("no starknet → ethereum row: {seen:#}"));
    assert_eq!(starknet_to_l1[1], "2");
    assert_eq!(starknet_to_l1[2], "2");

    // The OpenAPI document: exactly the routes served, every answer as documented.
    let http = reqwest::Client::new();
    let base = env.router.api.clone();
    let doc: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    let mut asked = BTreeSet::new();
    let id = clicked.to_string();
    let zero = B256::ZERO.to_string();
    let requests: Vec<(&str, &str, String, Option<Value>, u16)> = vec![
        ("get", "/", "/".into(), None, 200),
        ("get", "/health", "/health".into(), None, 200),
        ("get", "/stats", "/stats".into(), None, 200),
        ("get", "/messages", "/messages?limit=50".into(), None, 200),
        (
            "get",
            "/messages",
            "/messages?status=bogus".into(),
            None,
            400,
        ),
        ("get", "/messages", "/messages?limit=0".into(), None, 400),
        (
            "get",
            "/messages/{id}",
            format!("/messages/{id}"),
            None,
            200,
        ),
        ("get", "/messages/{id}", "/messages/0x12".into(), None, 400),
        (
            "get",
            "/messages/{id}",
            format!("/messages/{zero}"),
            None,
            404,
        ),
        ("get", "/peers", "/peers".into(), None, 404),
        ("get", "/metrics", "/metrics".into(), None, 200),
        ("get", "/ready", "/ready".into(), None, 200),
        ("get", "/openapi.json", "/openapi.json".into(), None, 200),
        (
            "get",
            "/quote",
            format!(
                "/quote?from={}&to=1&recipient={:#x}&payload=5",
                env.stack.starknets[0].domain,
                U256::from_be_bytes(env.stack.l1_app.into_word().0)
            ),
            None,
            200,
        ),
        (
            "get",
            "/quote",
            "/quote?from=1&to=77&recipient=0x1".into(),
            None,
            404,
        ),
        (
            "get",
            "/quote",
            "/quote?from=1&to=2&recipient=zz".into(),
            None,
            400,
        ),
        (
            "post",
            "/messages/{id}/retry",
            format!("/messages/{id}/retry"),
            None,
            409,
        ),
        (
            "post",
            "/messages/{id}/retry",
            format!("/messages/{zero}/retry"),
            None,
            404,
        ),
        (
            "post",
            "/messages/{id}/drop",
            format!("/messages/{parked}/drop"),
            Some(json!({"reason": " "})),
            400,
        ),
        (
            "post",
            "/messages/{id}/drop",
            format!("/messages/{parked}/drop"),
            Some(json!({"reason": "checked by hand"})),
            200,
        ),
        (
            "post",
            "/store/backup",
            "/store/backup".into(),
            Some(json!({"to": "relative/folder"})),
            400,
        ),
    ];
    for (method, template, path, body, want) in requests {
        let request = match method {
            "get" => http.get(format!("{base}{path}")),
            _ => http
                .post(format!("{base}{path}"))
                .json(&body.unwrap_or(json!({}))),
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        assert_eq!(status, want, "{method} {path}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await?;
        let documented_response = &doc["paths"][template][method]["responses"][want.to_string()];
        assert!(
            documented_response.is_object(),
            "{method} {template} answered {want}, which the document does not list"
        );
        let content = documented_response["content"].as_object().unwrap();
        let (media, schema) = content
            .iter()
            .find(|(media, _)| content_type.starts_with(media.as_str()))
            .unwrap_or_else(|| {
                panic!(
                    "{method} {path}: answered {content_type}, documented {:?}",
                    content.keys().collect::<Vec<_>>()
                )
            });
        if media == "application/json" && !schema["schema"].is_null() {
            let answer: Value = serde_json::from_str(&text)?;
            let mut root = schema["schema"].clone();
            root["components"] = doc["components"].clone();
            let validator = jsonschema::validator_for(&root)
                .map_err(|e| eyre::eyre!("{method} {template} {want}: bad schema: {e}"))?;
            let errors: Vec<String> = validator
                .iter_errors(&answer)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {path} ({want}) does not match its schema: {errors:?}\n{answer:#}"
            );
        }
        asked.insert((template.to_string(), method.to_string()));
    }
    assert_eq!(
        asked, documented,
        "every documented route was requested, and only those"
    );
    let dropped = env.message(&parked).await?;
    assert_eq!(dropped["stage"], "dropped", "{dropped:#}");

    // promtool lints the classic exposition; a Prometheus server's Accept gets OpenMetrics.
    let promtool = std::env::var("XROUTE_PROMTOOL").unwrap_or_else(|_| "/usr/bin/promtool".into());
    let exposition = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let mut lint = tokio::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| eyre::eyre!("{promtool}: {e} (run scripts/bootstrap)"))?;
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = lint.stdin.take().unwrap();
        stdin.write_all(exposition.as_bytes()).await?;
    }
    let lint = lint.wait_with_output().await?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(
        lint.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}"
    );
    let open = http
        .get(format!("{base}/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await?;
    assert!(
        open.headers()["content-type"]
            .to_str()?
            .starts_with("application/openmetrics-text")
    );
    assert!(open.text().await?.ends_with("# EOF\n"));

    // Property tests generated from the document (a fixed seed: the same cases every run).
    let schemathesis = std::env::var("XROUTE_SCHEMATHESIS").map_err(|_| {
        eyre::eyre!("XROUTE_SCHEMATHESIS is not set: run `eval \"$(scripts/bootstrap --print)\"`")
    })?;
    // Its cache (crash replays) goes to a folder of the test's own, not the checkout.
    let st_dir = tempfile::tempdir()?;
    let run = tokio::process::Command::new(&schemathesis)
        .current_dir(st_dir.path())
        .args(["--no-color", "run", &format!("{base}/openapi.json")])
        .args(["--max-examples", "25", "--seed", "20261205"])
        .args(["--exclude-path", "/store/backup"])
        .output()
        .await
        .map_err(|e| eyre::eyre!("{schemathesis}: {e} (run scripts/bootstrap)"))?;
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "schemathesis found the API and its document disagreeing:\n{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
    Ok(())
}
