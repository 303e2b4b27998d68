//! The flow diagram (diagram.js) in the shared browser: on the workflow page, a box per step
//! and a labelled route per branch case, `on_error` and `next` jump, a box showing its step's
//! definition when clicked or chosen with the keyboard; on an execution's page, the path taken
//! solid and the steps off it faded; a hostile step id or label drawn as text.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::{HOSTILE, click, screenshot, text_of, wait_text};

/// Waits for `css` to match, then its textContent (an SVG element has no innerText).
async fn svg_text(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = eval(
            c,
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            vec![json!(css)],
        )
        .await;
        if let Value::String(text) = text {
            return text;
        }
        assert!(Instant::now() < deadline, "no {css} on the page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Evaluates `script` (a function body) in the page and returns its value.
async fn eval(c: &Client, script: &str, args: Vec<Value>) -> Value {
    c.execute(script, args).await.expect("script")
}

/// The router's diagram on its workflow page (read-only): every step boxed, each route
/// labelled, a box opening its step's definition.
pub async fn the_workflow_diagram(c: &Client, base: &str, router_id: &str) {
    c.goto(&format!("{base}/console#/workflows/{router_id}"))
        .await
        .expect("open the workflow");
    let diagram = "#workflow-diagram svg.diagram";
    svg_text(c, diagram).await;
    let boxes = eval(
        c,
        "return [...document.querySelectorAll(arguments[0] + ' .step-box')].map(g => g.dataset.step)",
        vec![json!(diagram)],
    )
    .await;
    assert_eq!(
        boxes,
        json!(["route", "page", "chat", "check", "boom", "post", "ignore"]),
        "a box per step, a loop's inner steps inside its box"
    );
    let inside: Value = eval(
        c,
        "return [...document.querySelectorAll(arguments[0] + \" .step-box[data-step='chat'] .step-box\")].map(g => g.dataset.step)",
        vec![json!(diagram)],
    )
    .await;
    assert_eq!(inside, json!(["check", "boom", "post"]));
    let label = |from: &str, kind: &str, to: &str| {
        format!(
            "{diagram} g.route[data-from='{from}'][data-kind='{kind}'][data-to='{to}'] .route-label"
        )
    };
    for (from, kind, to, text) in [
        ("route", "case-0", "page", "case 0"),
        ("route", "case-1", "chat", "case 1"),
        ("route", "default", "ignore", "default"),
        ("page", "next", "end", "next"),
        ("page", "on_error", "ignore", "on_error"),
        ("check", "case-0", "boom", "case 0"),
        ("check", "default", "post", "default"),
    ] {
        assert_eq!(svg_text(c, &label(from, kind, to)).await, text);
    }
    // A case's condition is its label's tooltip.
    let hint = eval(
        c,
        "return document.querySelector(arguments[0]).parentNode.querySelector('title').textContent",
        vec![json!(label("route", "case-0", "page"))],
    )
    .await;
    assert_eq!(hint, json!("case 0: trigger.body.severity == 'critical'"));
    assert!(
        c.find(Locator::Css("#diagram-step:not([hidden])"))
            .await
            .is_err(),
        "no step shown before one is chosen"
    );

    click(c, &format!("{diagram} .step-box[data-step='page'] rect")).await;
    let shown = text_of(c, "#diagram-step[data-step='page']").await;
    let step: Value = serde_json::from_str(&shown).expect("the step's definition as JSON");
    assert_eq!(step["output"], json!({"paged": true}), "{shown}");
    // The keyboard reaches a box too.
    let route = c
        .find(Locator::Css(&format!(
            "{diagram} .step-box[data-step='route']"
        )))
        .await
        .expect("the branch's box");
    route.send_keys("\u{E007}").await.expect("Enter on the box");
    let shown = text_of(c, "#diagram-step[data-step='route']").await;
    assert!(shown.contains("\"cases\""), "{shown}");
    screenshot(c, "console-diagram.png").await;
}

/// The router's run (case 1 → the loop → end) on its execution page: the taken routes solid,
/// the others and the steps off the path faded, each box coloured by its status.
pub async fn the_execution_diagram(c: &Client, base: &str, router_id: &str, execution_id: &str) {
    c.goto(&format!(
        "{base}/console#/workflows/{router_id}/executions/{execution_id}"
    ))
    .await
    .expect("open the execution");
    wait_text(c, "#execution-status", "succeeded").await;
    let diagram = "#execution-diagram svg.diagram";
    svg_text(c, diagram).await;
    let version = eval(
        c,
        "return document.getElementById('execution-diagram').dataset.version",
        vec![],
    )
    .await;
    assert_eq!(version, json!("1"), "drawn from the version it ran");
    let classes = |css: String| async move {
        let v = eval(
            c,
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute('class') : null",
            vec![json!(css)],
        )
        .await;
        v.as_str().unwrap_or_else(|| panic!("no {css}")).to_owned()
    };
    for (step, want) in [
        ("route", "on-path status-succeeded"),
        ("chat", "on-path status-succeeded"),
        ("page", "off-path"),
        ("ignore", "off-path"),
    ] {
        let got = classes(format!("{diagram} > .step-box[data-step='{step}']")).await;
        for class in want.split(' ') {
            assert!(
                got.split(' ').any(|c| c == class),
                "{step}: {got}, not {want}"
            );
        }
    }
    for (from, kind, state) in [
        ("trigger", "flow", "taken"),
        ("route", "case-1", "taken"),
        ("chat", "next", "taken"),
        ("route", "case-0", "faded"),
        ("route", "default", "faded"),
        ("page", "next", "faded"),
        ("page", "on_error", "faded"),
    ] {
        let got = classes(format!(
            "{diagram} > .routes > g.route[data-from='{from}'][data-kind='{kind}'], {diagram} > g.route[data-from='{from}'][data-kind='{kind}']"
        ))
        .await;
        assert!(
            got.split(' ').any(|c| c == state),
            "{from} {kind}: {got}, not {state}"
        );
    }
    let end = classes(format!("{diagram} > .end-node")).await;
    assert!(end.contains("on-path"), "{end}");
    // A box leads to its step's card.
    click(c, &format!("{diagram} .step-box[data-step='ignore'] rect")).await;
    svg_text(
        c,
        &format!("{diagram} .step-box.selected[data-step='ignore']"),
    )
    .await;
    c.execute(
        "document.getElementById('execution-diagram').scrollIntoView()",
        vec![],
    )
    .await
    .expect("scroll to the diagram");
    screenshot(c, "console-execution-flow.png").await;
}

/// Step ids and labels from a definition go in as text: a hostile id (which the loader would
/// refuse, but a draft in the editor may hold) is drawn as written, never as markup.
pub async fn a_hostile_step_renders_as_text(c: &Client) {
    let drawn = eval(
        c,
        "const svg = window.WebhookDiagram.render({steps: [\
           {id: arguments[0], type: 'echo', on_error: 'end'},\
           {id: 'b', type: 'branch', cases: [{when: arguments[0], next: 'end'}], default: 'end'}]},\
           {statuses: {b: arguments[0]}});\
         document.getElementById('view').append(svg);\
         const box = svg.querySelector('.step-box');\
         return {id: box.dataset.step, title: box.querySelector('title').textContent,\
           hint: svg.querySelector(\"g.route[data-from='b'][data-kind='case-0'] title\").textContent,\
           markup: svg.querySelectorAll('script, img, foreignObject').length,\
           pwned: window.__pwned === undefined ? null : window.__pwned};",
        vec![json!(HOSTILE)],
    )
    .await;
    assert_eq!(drawn["id"], json!(HOSTILE));
    assert_eq!(drawn["title"], json!(format!("{HOSTILE} (echo)")));
    assert_eq!(drawn["hint"], json!(format!("case 0: {HOSTILE}")));
    assert_eq!(drawn["markup"], json!(0), "markup made from a step");
    assert_eq!(drawn["pwned"], Value::Null, "a step's id ran as script");
}

/// A draft's steps without ids are drawn under the ids the loader will give them, routes and
/// all (the editor draws drafts).
pub async fn a_draft_without_ids_is_numbered_as_the_loader_does(c: &Client) {
    let drawn = eval(
        c,
        "const svg = window.WebhookDiagram.render({steps: [{type: 'echo'}, {id: 'x', type: 'echo'},\
           {type: 'for_each', items: 'trigger.body.a', steps: [{type: 'echo'}]}]});\
         return {boxes: [...svg.querySelectorAll('.step-box')].map(g => g.dataset.step),\
           routes: [...svg.querySelectorAll('g.route')].map(g => g.dataset.from + '>' + g.dataset.to)};",
        vec![],
    )
    .await;
    assert_eq!(
        drawn["boxes"],
        json!(["step1", "x", "step3", "step3-step1"])
    );
    assert_eq!(
        drawn["routes"],
        json!([
            "trigger>step1",
            "step1>x",
            "x>step3",
            "step3>end",
            "step3-step1>end"
        ])
    );
}
