//! What the CLI prints: short text for people, `--json` for scripts.

use serde::Serialize;
use serde_json::json;

use crate::app::{Accepted, CreatedApiKey, ExecutionPage};
use crate::domain::{ApiKey, Execution, SnsSubscription, Workflow};

pub struct Output {
    pub json: bool,
    pub base_url: String,
}

fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot render output: {e}"),
    }
}

fn key_json(key: &ApiKey) -> serde_json::Value {
    json!({ "name": key.name, "prefix": key.prefix, "createdAt": key.created_at, "revokedAt": key.revoked_at })
}

impl Output {
    pub fn created_key(&self, created: &CreatedApiKey) {
        if self.json {
            let mut value = key_json(&created.key);
            value["value"] = json!(created.secret.expose());
            print_json(&value);
        } else {
            println!(
                "Created API key {}. Its value is shown only now; store it safely:",
                created.key.name
            );
            println!("{}", created.secret.expose());
        }
    }

    pub fn keys(&self, keys: &[ApiKey]) {
        if self.json {
            print_json(&keys.iter().map(key_json).collect::<Vec<_>>());
            return;
        }
        if keys.is_empty() {
            println!("No API keys. Create one with: api-keys create NAME");
        }
        for key in keys {
            let state = key
                .revoked_at
                .map(|t| format!("revoked {t}"))
                .unwrap_or_else(|| "active".into());
            println!(
                "{:<24} {}…  created {}  {}",
                key.name, key.prefix, key.created_at, state
            );
        }
    }

    pub fn revoked(&self, key: &ApiKey) {
        if self.json {
            print_json(&key_json(key));
        } else {
            println!("Revoked API key {}.", key.name);
        }
    }

    pub fn workflow(&self, workflow: &Workflow) {
        let url = workflow.webhook_url(&self.base_url);
        if self.json {
            let mut value = json!(workflow);
            value["webhookUrl"] = json!(url);
            print_json(&value);
            return;
        }
        println!("Workflow {} ({})", workflow.id, workflow.name);
        println!("  trigger:     {}", workflow.trigger);
        println!("  API key:     {}", workflow.api_key_name);
        println!("  enabled:     {}", workflow.enabled);
        println!(
            "  steps:       {}",
            serde_json::to_string(&workflow.steps).unwrap_or_default()
        );
        if !workflow.sns.allowed_topic_arns.is_empty() {
            println!(
                "  topics:      {}",
                workflow.sns.allowed_topic_arns.join(", ")
            );
        }
        println!("  webhook URL: {url}");
    }

    pub fn workflows(&self, workflows: &[Workflow]) {
        if self.json {
            print_json(workflows);
            return;
        }
        if workflows.is_empty() {
            println!("No workflows. Create one with: workflows create --name NAME --api-key KEY");
        }
        for w in workflows {
            let state = if w.enabled { "enabled" } else { "disabled" };
            println!("{:<32} {:<16} {:<9} {}", w.id, w.trigger, state, w.name);
        }
    }

    pub fn subscriptions(&self, subscriptions: &[SnsSubscription]) {
        if self.json {
            print_json(subscriptions);
            return;
        }
        if subscriptions.is_empty() {
            println!("No SNS subscriptions recorded.");
        }
        for s in subscriptions {
            println!(
                "{}  {:?}  {}  {}",
                s.topic_arn,
                s.state,
                s.subscription_arn.as_deref().unwrap_or("-"),
                s.updated_at
            );
        }
    }

    pub fn executions(&self, page: &ExecutionPage) {
        if self.json {
            print_json(page);
            return;
        }
        if page.items.is_empty() {
            println!("No executions.");
        }
        for e in &page.items {
            println!(
                "{}  {:<9}  {}  attempts={}",
                e.id, e.status, e.received_at, e.attempts
            );
        }
        if let Some(cursor) = &page.next_cursor {
            println!("More: --cursor {cursor}");
        }
    }

    pub fn execution(&self, execution: &Execution) {
        print_json(execution);
    }

    pub fn replayed(&self, accepted: &Accepted) {
        if self.json {
            print_json(&json!({ "executionId": accepted.execution_id, "status": accepted.status }));
        } else {
            println!(
                "Queued execution {} ({}).",
                accepted.execution_id, accepted.status
            );
        }
    }
}
