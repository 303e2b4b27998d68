//! What the CLI prints: short text for people, `--json` for scripts (the API's own documents,
//! from `crate::wire`). Every write returns its I/O error, so a closed pipe (`| head`) ends the
//! command quietly instead of panicking inside `println!`.

use std::io::{self, Write};

use serde::Serialize;

use crate::app::{
    Accepted, ApiKeyListing, BulkReplayed, CheckReport, CreatedApiKey, ExecutionPage, Found,
    ItemCounts, ItemPage, RotatedApiKey, SecretChange, TestRun,
};
use crate::domain::{
    AdminKey, ApiKey, Execution, PlanState, RefusalSample, SnsSubscription, StepRecord, Workflow,
    WorkflowSecrets,
};
use crate::wire::{
    AcceptedView, ApiKeyView, BulkReplayView, CreatedApiKeyView, ErrorBody, ExecutionPageView,
    ExecutionSearchView, ExecutionView, ItemPageView, RefusalSamplesView, RotatedApiKeyView,
    SecretsView, SubscriptionView, TestRunView, WorkflowCheckView, WorkflowView, branch_choice,
};
use crate::worker::dry_run::StepPreview;

pub struct Output {
    pub json: bool,
    pub base_url: String,
}

fn compact(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn write_json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| match e.io_error_kind() {
        // Keep the kind, so a closed pipe is still recognised as one.
        Some(kind) => io::Error::from(kind),
        None => io::Error::other(e),
    })?;
    writeln!(out)?;
    out.flush()
}

/// Prints an error the way the API answers one (`--json`) or as one line for people; always
/// on stderr, so stdout carries only results.
pub fn error(json: bool, code: &'static str, message: &str) {
    let mut err = io::stderr().lock();
    // Nothing sensible is left to do if stderr is closed too.
    let _ = if json {
        write_json(&mut err, &ErrorBody::new(code, message))
    } else {
        writeln!(err, "error: {message}")
    };
}

impl Output {
    fn stdout(&self) -> io::StdoutLock<'static> {
        io::stdout().lock()
    }

    pub fn created_key(&self, created: &CreatedApiKey) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &CreatedApiKeyView::from(created));
        }
        writeln!(
            out,
            "Created API key {}. Its value is shown only now; store it safely:",
            created.key.name
        )?;
        writeln!(out, "{}", created.secret.expose())
    }

    pub fn created_admin_key(&self, created: &CreatedApiKey) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &CreatedApiKeyView::from(created));
        }
        writeln!(
            out,
            "Created admin key {}. Its value is shown only now; paste it into the console (/console):",
            created.key.name
        )?;
        writeln!(out, "{}", created.secret.expose())
    }

    pub fn admin_keys(&self, keys: &[AdminKey]) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            let views: Vec<ApiKeyView> = keys.iter().map(|k| ApiKeyView::from(&k.0)).collect();
            return write_json(&mut out, &views);
        }
        if keys.is_empty() {
            writeln!(
                out,
                "No admin keys. Create one with: admin-keys create NAME"
            )?;
        }
        for key in keys {
            let key = &key.0;
            let state = key
                .revoked_at
                .map(|t| format!("revoked {t}"))
                .unwrap_or_else(|| "active".into());
            writeln!(
                out,
                "{:<24} {}…  created {}  {}",
                key.name, key.prefix, key.created_at, state
            )?;
        }
        Ok(())
    }

    pub fn revoked_admin_key(&self, key: &AdminKey) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &ApiKeyView::from(&key.0));
        }
        writeln!(out, "Revoked admin key {}.", key.0.name)
    }

    pub fn rotated_key(&self, rotated: &RotatedApiKey) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &RotatedApiKeyView::from(rotated));
        }
        writeln!(
            out,
            "Rotated API key {}. Its new value is shown only now; store it safely:",
            rotated.key.name
        )?;
        writeln!(out, "{}", rotated.secret.expose())?;
        if let Some(previous) = &rotated.key.previous {
            match previous.retire_at {
                Some(at) => writeln!(
                    out,
                    "The old value ({}…) works until {at}.",
                    previous.prefix
                )?,
                None => writeln!(
                    out,
                    "The old value ({}…) works until `api-keys retire {}`.",
                    previous.prefix, rotated.key.name
                )?,
            }
        }
        Ok(())
    }

    pub fn retired_key(&self, key: &ApiKey) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &ApiKeyView::from(key));
        }
        writeln!(
            out,
            "Retired the previous value of API key {}; only {}… works now.",
            key.name, key.prefix
        )
    }

    pub fn secrets(&self, change: &SecretChange) -> io::Result<()> {
        let view = SecretsView::from(change);
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &view);
        }
        if let Some(value) = &view.value {
            writeln!(
                out,
                "Generated a signing secret. It is shown only now; give it to the sender:"
            )?;
            writeln!(out, "{value}")?;
        }
        writeln!(
            out,
            "Active signing secrets of {} (oldest first):",
            view.workflow_id
        )?;
        for s in &view.secrets {
            writeln!(out, "  {}  added {}", s.fingerprint, s.added_at)?;
        }
        Ok(())
    }

    pub fn keys(&self, keys: &[ApiKeyListing]) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            let views: Vec<ApiKeyView> = keys.iter().map(ApiKeyView::from).collect();
            return write_json(&mut out, &views);
        }
        if keys.is_empty() {
            writeln!(out, "No API keys. Create one with: api-keys create NAME")?;
        }
        for listing in keys {
            let key = &listing.key;
            let state = key
                .revoked_at
                .map(|t| format!("revoked {t}"))
                .unwrap_or_else(|| "active".into());
            let used = listing
                .last_used_at
                .map(|t| format!("last used {t}"))
                .unwrap_or_else(|| "never used".into());
            writeln!(
                out,
                "{:<24} {}…  created {}  {}  {}",
                key.name, key.prefix, key.created_at, used, state
            )?;
            if let Some(previous) = &key.previous {
                writeln!(
                    out,
                    "{:<24} {}…  previous value, still accepted",
                    "", previous.prefix
                )?;
            }
        }
        Ok(())
    }

    pub fn revoked(&self, key: &ApiKey) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &ApiKeyView::from(key));
        }
        writeln!(out, "Revoked API key {}.", key.name)
    }

    pub fn workflow(&self, workflow: &Workflow) -> io::Result<()> {
        self.workflow_with_secrets(workflow, None)
    }

    pub fn workflow_with_secrets(
        &self,
        workflow: &Workflow,
        secrets: Option<&WorkflowSecrets>,
    ) -> io::Result<()> {
        let mut view = WorkflowView::new(workflow, &self.base_url, None);
        if let Some(secrets) = secrets {
            view = view.with_secrets(secrets);
        }
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &view);
        }
        writeln!(out, "Workflow {} ({})", view.id, view.name)?;
        writeln!(out, "  trigger:     {}", view.trigger)?;
        writeln!(out, "  API key:     {}", view.api_key_name)?;
        writeln!(out, "  enabled:     {}", view.enabled)?;
        writeln!(out, "  auth:        {}", view.auth)?;
        if let Some(verify) = &view.verify {
            let scheme = serde_json::to_value(verify.scheme).unwrap_or_default();
            writeln!(
                out,
                "  verify:      {}",
                scheme.as_str().unwrap_or_default()
            )?;
            for s in verify.secrets.iter().flatten() {
                writeln!(
                    out,
                    "  secret:      {}  added {}",
                    s.fingerprint, s.added_at
                )?;
            }
        }
        if workflow.steps.is_empty() {
            writeln!(out, "  steps:       none")?;
        }
        for (n, step) in workflow.steps.iter().enumerate() {
            let label = if n == 0 {
                "  steps:      "
            } else {
                "              "
            };
            writeln!(out, "{label} {} ({})", step.id, step.action.kind())?;
        }
        if let Some(sns) = &view.sns
            && !sns.allowed_topic_arns.is_empty()
        {
            writeln!(out, "  topics:      {}", sns.allowed_topic_arns.join(", "))?;
        }
        writeln!(out, "  webhook URL: {}", view.webhook_url)?;
        if let Some(url) = &view.subscription_url {
            writeln!(
                out,
                "  SNS endpoint (subscribe this, with the key's value): {url}"
            )?;
        }
        Ok(())
    }

    pub fn workflows(&self, workflows: &[Workflow]) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            let views: Vec<WorkflowView> = workflows
                .iter()
                .map(|w| WorkflowView::new(w, &self.base_url, None))
                .collect();
            return write_json(&mut out, &views);
        }
        if workflows.is_empty() {
            writeln!(
                out,
                "No workflows. Create one with: workflows create --name NAME --api-key KEY"
            )?;
        }
        for w in workflows {
            let state = if w.enabled { "enabled" } else { "disabled" };
            writeln!(
                out,
                "{:<32} {:<16} {:<9} {}",
                w.id, w.trigger, state, w.name
            )?;
        }
        Ok(())
    }

    pub fn subscriptions(&self, subscriptions: &[SnsSubscription]) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            let views: Vec<SubscriptionView> =
                subscriptions.iter().map(SubscriptionView::from).collect();
            return write_json(&mut out, &views);
        }
        if subscriptions.is_empty() {
            writeln!(out, "No SNS subscriptions recorded.")?;
        }
        for s in subscriptions {
            writeln!(
                out,
                "{}  {:?}  {}  {}",
                s.topic_arn,
                s.state,
                s.subscription_arn.as_deref().unwrap_or("-"),
                s.updated_at
            )?;
        }
        Ok(())
    }

    /// Header values and bodies are printed escaped (`{:?}`): a sender's bytes must not reach
    /// the terminal as control sequences.
    pub fn refusals(&self, samples: &[RefusalSample]) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &RefusalSamplesView::from(samples));
        }
        if samples.is_empty() {
            writeln!(out, "No refused requests sampled in the last 48 h.")?;
        }
        for s in samples {
            writeln!(
                out,
                "{}  {} {}  {}  from {}",
                s.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                s.status,
                s.code,
                s.reason,
                s.source_ip.as_deref().unwrap_or("-"),
            )?;
            for (name, value) in &s.headers {
                writeln!(out, "  {name}: {value:?}")?;
            }
            let cut = if s.body_truncated { " (truncated)" } else { "" };
            writeln!(out, "  body{cut}: {:?}", s.body)?;
        }
        Ok(())
    }

    pub fn executions(&self, page: &ExecutionPage, workflow: &Workflow) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &ExecutionPageView::new(page, &workflow.steps));
        }
        if page.items.is_empty() {
            writeln!(out, "No executions.")?;
        }
        for e in &page.items {
            writeln!(
                out,
                "{}  {:<9}  {}  attempts={}{}",
                e.id,
                e.status,
                e.received_at,
                e.attempts,
                test_mark(e)
            )?;
        }
        if let Some(cursor) = &page.next_cursor {
            writeln!(out, "More: --cursor {cursor}")?;
        }
        Ok(())
    }

    /// `loops`: the items of each `for_each` on the path, counted by status (text only; the
    /// items themselves are `--items STEP`).
    pub fn execution(
        &self,
        execution: &Execution,
        workflow: &Workflow,
        loops: &[(String, ItemCounts)],
    ) -> io::Result<()> {
        let view = ExecutionView::new(execution, &workflow.steps);
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &view);
        }
        writeln!(out, "Execution {} ({})", view.id, view.status)?;
        if view.test {
            writeln!(
                out,
                "  test:      yes (a test run; not in the metrics' counts)"
            )?;
        }
        writeln!(out, "  received:  {}", view.received_at)?;
        writeln!(out, "  attempts:  {}", view.attempts)?;
        if let Some(waiting) = &view.waiting {
            let until = waiting
                .expires_at
                .map(|at| format!(", valid until {at}"))
                .unwrap_or_default();
            writeln!(
                out,
                "  waiting:   in {} ({}), wakes at {}{until}",
                waiting.step, waiting.kind, waiting.wake_at
            )?;
        }
        if let Some(error) = &view.error {
            writeln!(out, "  error:     {error}")?;
        }
        if let Some(result) = &view.result {
            writeln!(out, "  result:    {}", compact(result))?;
        }
        writeln!(out, "  payload:   {}", compact(&view.payload))?;
        if view.steps.is_empty() {
            writeln!(out, "  steps:     none run yet")?;
        }
        let plan = execution.plan(&workflow.steps);
        let taken: Vec<&str> = execution.steps.iter().map(|r| r.id.as_str()).collect();
        if !taken.is_empty() {
            writeln!(out, "  path:      {}", taken.join(" → "))?;
        }
        // Pending steps are worth naming once the run has begun; before, every step is.
        for (label, state) in [
            ("skipped", PlanState::Skipped),
            ("pending", PlanState::Pending),
        ] {
            let ids: Vec<&str> = plan
                .iter()
                .filter(|p| p.state == state)
                .filter(|p| p.state != PlanState::Pending || !taken.is_empty())
                .map(|p| p.step.id.as_str())
                .collect();
            if !ids.is_empty() {
                writeln!(
                    out,
                    "  {label}:{:width$}{}",
                    "",
                    ids.join(", "),
                    width = 10 - label.len()
                )?;
            }
        }
        for (record, step) in execution.steps.iter().zip(&view.steps) {
            writeln!(
                out,
                "  step {} ({}): {:?} in {} ms, {} attempt(s){}",
                step.id,
                step.kind,
                step.status,
                step.duration_ms,
                step.attempts,
                if step.continued { ", continued" } else { "" }
            )?;
            if let Some(choice) = branch_choice(record) {
                writeln!(out, "    matched: {choice}")?;
            }
            if let Some((_, counts)) = loops.iter().find(|(id, _)| *id == step.id) {
                writeln!(out, "    items:   {}", item_summary(counts))?;
            }
            if let Some(request) = &step.request {
                writeln!(out, "    request: {}", compact(request))?;
            }
            if let Some(output) = &step.output {
                writeln!(out, "    output:  {}", compact(output))?;
            }
            if let Some(error) = &step.error {
                writeln!(out, "    error:   {error}")?;
            }
        }
        Ok(())
    }

    /// A page of a `for_each` step's items (`executions show --items STEP`).
    pub fn items(&self, step_id: &str, page: &ItemPage) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &ItemPageView::from(page));
        }
        if page.items.is_empty() {
            writeln!(out, "No items of step {step_id} on this page.")?;
        }
        for item in &page.items {
            writeln!(out, "  item {} ({})", item.index, item.status.as_str())?;
            for record in &item.steps {
                inner_step(&mut out, record)?;
            }
            if let Some(output) = &item.output {
                writeln!(out, "    output:  {}", compact(output))?;
            }
            if let Some(error) = &item.error {
                writeln!(out, "    error:   {error}")?;
            }
        }
        if let Some(after) = page.next_after {
            writeln!(out, "More: --after {after}")?;
        }
        Ok(())
    }

    /// The schema text itself, whatever `--json` says: it is JSON.
    pub fn workflow_schema(&self) -> io::Result<()> {
        self.stdout()
            .write_all(crate::domain::workflow_schema_text().as_bytes())
    }

    /// `workflows check`: `--json` prints what the check route answers.
    pub fn check(&self, report: &CheckReport) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &WorkflowCheckView::from(report));
        }
        if report.errors.is_empty() {
            return writeln!(out, "ok: the workflow file loads");
        }
        for err in &report.errors {
            writeln!(out, "{err}")?;
        }
        Ok(())
    }

    pub fn dry_run(
        &self,
        workflow: &Workflow,
        execution: &Execution,
        previews: &[StepPreview],
    ) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            let doc = serde_json::json!({
                "workflowId": workflow.id.to_string(),
                "executionId": execution.id.to_string(),
                "steps": previews,
            });
            return write_json(&mut out, &doc);
        }
        writeln!(
            out,
            "Dry run of workflow {} against execution {} (nothing is sent):",
            workflow.id, execution.id
        )?;
        for p in previews {
            let reach = if p.not_reached {
                " (not reached: off the path this execution takes)"
            } else {
                ""
            };
            let at = p.path.as_deref().unwrap_or(&p.id);
            writeln!(out, "  step {at} ({}){reach}", p.kind)?;
            if let Some(preview) = &p.preview {
                writeln!(out, "    {}", compact(preview))?;
            }
            if let Some(error) = &p.error {
                writeln!(out, "    error: {error}")?;
            }
        }
        Ok(())
    }

    pub fn replayed(&self, accepted: &Accepted) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &AcceptedView::from(accepted));
        }
        writeln!(
            out,
            "Queued execution {} ({}).",
            accepted.execution_id, accepted.status
        )
    }

    /// Executions found across workflows (`executions list` without a workflow).
    pub fn found(&self, found: &Found) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &ExecutionSearchView::from(found));
        }
        if found.items.is_empty() {
            writeln!(out, "No executions.")?;
        }
        for (e, workflow) in &found.items {
            writeln!(
                out,
                "{}  {:<9}  {}  {} ({}){}",
                e.id,
                e.status,
                e.received_at,
                workflow.name,
                workflow.id,
                test_mark(e)
            )?;
        }
        let more = if found.truncated {
            "; there may be more: narrow the filters"
        } else {
            ""
        };
        writeln!(out, "{} executions read{more}.", found.scanned)
    }

    pub fn bulk_replayed(&self, replayed: &BulkReplayed, count_only: bool) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &BulkReplayView::from(replayed));
        }
        let read = if replayed.truncated {
            format!("{} read, more not read", replayed.scanned)
        } else {
            format!("{} read", replayed.scanned)
        };
        if count_only {
            return writeln!(out, "{} executions match ({read}).", replayed.matched);
        }
        for id in &replayed.execution_ids {
            writeln!(out, "Queued execution {id}.")?;
        }
        writeln!(
            out,
            "Replayed {} of {} matching executions ({read}).",
            replayed.execution_ids.len(),
            replayed.matched
        )
    }

    pub fn test_run(&self, run: &TestRun) -> io::Result<()> {
        let mut out = self.stdout();
        if self.json {
            return write_json(&mut out, &TestRunView::from(run));
        }
        writeln!(
            out,
            "Queued test execution {} (version {}).",
            run.execution.id, run.workflow_version
        )
    }
}

/// How a list marks a test run.
fn test_mark(e: &Execution) -> &'static str {
    if e.test { "  test" } else { "" }
}

/// `5 items: 3 succeeded, 2 failed` (only the statuses that occur).
fn item_summary(counts: &ItemCounts) -> String {
    let by_status: Vec<String> = [
        ("succeeded", counts.succeeded),
        ("failed", counts.failed),
        ("running", counts.running),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(status, n)| format!("{n} {status}"))
    .collect();
    let noun = if counts.total == 1 { "item" } else { "items" };
    if by_status.is_empty() {
        format!("{} {noun}", counts.total)
    } else {
        format!("{} {noun}: {}", counts.total, by_status.join(", "))
    }
}

/// One inner step of an item, on one line with its outcome.
fn inner_step(out: &mut impl Write, record: &StepRecord) -> io::Result<()> {
    let at = record.path.as_deref().unwrap_or(&record.id);
    writeln!(
        out,
        "    step {at} ({}): {}, {} attempt(s)",
        record.kind,
        record.status.as_str(),
        record.attempts
    )?;
    if let Some(choice) = branch_choice(record) {
        writeln!(out, "      matched: {choice}")?;
    }
    if let Some(error) = &record.error {
        writeln!(out, "      error: {error}")?;
    }
    Ok(())
}
