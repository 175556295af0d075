//! Limits on the numbers a caller chooses that would otherwise size a call's memory or work
//! (docs/limits.md). Each is checked where the number enters the core, and exceeding it is a
//! `PlanError::LimitExceeded` naming the field, the limit and the number given.

/// Largest samples per query (`k_max`) the test-time and joint planners accept. Their memory
/// does not depend on k_max; their work grows with it (a search per k that can win), so this
/// bounds a call's work. 2^20 samples per query is far beyond any deployment.
pub const MAX_SAMPLES: u32 = 1 << 20;

/// Largest k for which majority vote is priced exactly (its probability is a sum over k + 1
/// outcomes): planners with the majority aggregator consider at most this many samples and say
/// `max_samples` when it binds.
pub const MAX_MAJORITY_SAMPLES: u32 = 1024;

/// Samples per query for which a measured curve keeps a precomputed table of mean pass@k (per
/// generation budget); larger k are computed on demand. Bounds a measured curve's memory to
/// this many floats per (model, budget), whatever the rows' `n`.
pub const MEASURED_TABLE_SAMPLES: u32 = 256;

/// Iterations of any one-dimensional search (bisection, golden section, bracket growth). Every
/// loop in the planners stops after at most this many steps, whatever its tolerance.
pub const MAX_SEARCH_STEPS: usize = 400;

/// Most parallel streams per sequence the cost model prices (ParScale; docs/cost-model.md,
/// "Parallel streams"): the paper measures up to 8; 64 bounds a query's FLOPs and memory.
pub const MAX_STREAMS: f64 = 64.0;

/// `k_max` checked against [`MAX_SAMPLES`].
pub fn check_samples(field: &str, k: u32) -> crate::Result<u32> {
    if k == 0 {
        return Err(crate::PlanError::invalid(field, "must be >= 1, got 0"));
    }
    if k > MAX_SAMPLES {
        return Err(crate::PlanError::LimitExceeded {
            field: field.to_string(),
            limit: MAX_SAMPLES.into(),
            got: k.into(),
        });
    }
    Ok(k)
}

// ---- agent planner (docs/planning.md, "Agent plans") ----------------------------------------

/// Most rows of a measured agent table: each is priced once and every goal scans them all, so
/// this bounds a call's memory and work. 100,000 measured configurations is far beyond any
/// evaluation campaign.
pub const MAX_AGENT_ROWS: usize = 100_000;

/// Most tools an agent table prices (one calls column each, on every row).
pub const MAX_AGENT_TOOLS: usize = 64;

/// Rows of an agent table checked against [`MAX_AGENT_ROWS`].
pub fn check_agent_rows(n: usize) -> crate::Result<usize> {
    if n > MAX_AGENT_ROWS {
        return Err(crate::PlanError::LimitExceeded {
            field: "rows".to_string(),
            limit: MAX_AGENT_ROWS as u64,
            got: n as u64,
        });
    }
    Ok(n)
}

/// Tools of an agent table checked against [`MAX_AGENT_TOOLS`].
pub fn check_agent_tools(n: usize) -> crate::Result<usize> {
    if n > MAX_AGENT_TOOLS {
        return Err(crate::PlanError::LimitExceeded {
            field: "tool_prices".to_string(),
            limit: MAX_AGENT_TOOLS as u64,
            got: n as u64,
        });
    }
    Ok(n)
}
