//! Gauges that belong to this node's own state, rendered by its `/metrics`
//! beside the process-wide registry.
//!
//! A gauge a periodic job sets (the review SLA) says what that job last
//! found. Kept here rather than in the process-wide registry, it is the
//! answer of the node that `/metrics` was asked of: two nodes in one
//! process (the test suite's servers) no longer overwrite each other's
//! value, and a node that hands the job over clears its own.

use std::fmt::Write;
use std::sync::{Mutex, PoisonError};

/// `idlink_review_sla_breached{kind}`: open review cases past their SLA,
/// by kind, as the `review_sla` job last counted them; absent until it ran.
#[derive(Debug, Default)]
pub struct ReviewSlaGauge(Mutex<Option<Vec<(&'static str, u64)>>>);

impl ReviewSlaGauge {
    /// This node's job counted `counts` (every kind, zeros included).
    pub fn set(&self, counts: Vec<(&'static str, u64)>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(counts);
    }

    /// The job runs on another node now: this node's counts read zero, so a sum over nodes counts each case once.
    pub fn clear(&self) {
        if let Some(counts) = self.0.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            counts.iter_mut().for_each(|(_, n)| *n = 0);
        }
    }

    /// The gauge in the Prometheus text format (nothing before the job's first run).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(counts) = self.0.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            out.push_str("# TYPE idlink_review_sla_breached gauge\n");
            for (kind, n) in counts {
                let _ = writeln!(out, "idlink_review_sla_breached{{kind=\"{kind}\"}} {n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gauge_renders_what_the_job_counted_and_reads_zero_once_handed_over() {
        let g = ReviewSlaGauge::default();
        assert_eq!(g.render(), "");
        g.set(vec![("verification", 0), ("risk_freeze", 2)]);
        let text = g.render();
        assert!(text.starts_with("# TYPE idlink_review_sla_breached gauge\n"), "{text}");
        assert!(text.contains("idlink_review_sla_breached{kind=\"risk_freeze\"} 2\n"), "{text}");
        g.clear();
        assert!(g.render().contains("idlink_review_sla_breached{kind=\"risk_freeze\"} 0\n"));
    }
}
