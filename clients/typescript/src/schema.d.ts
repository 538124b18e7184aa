export interface paths {
    "/api/v1/analytics/dashboard": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Totals and rates over a window (whole hours, from the hourly rollup): events by type, impressions, clicks, CTR, orders, conversion rate, average watch time, revenue. */
        get: operations["analytics_dashboard"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/analytics/distributions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Event counts broken down by event_type or hour_of_day (UTC). */
        get: operations["analytics_distributions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/analytics/funnel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Users who went through the steps (event types) in order within window_hours of the first, per step, with the conversion from the first step. */
        get: operations["analytics_funnel"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/analytics/top_items": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A scenario's items with the most events of a type (default click), from the daily item rollup. */
        get: operations["analytics_top_items"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/analytics/trends": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description An hourly or daily series of one metric (events, ctr, conversion_rate, avg_watch_time, revenue, or an event type's count), optionally of one scenario and one event type. */
        get: operations["analytics_trends"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/behaviors": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Accepts one event. 202 means it is durable on the event bus. */
        post: operations["behaviors_track"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/behaviors/batch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Accepts the valid events of a batch (at most max_batch_events, default 10,000) and reports each invalid one with its index. */
        post: operations["behaviors_track_batch"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/behaviors/dead_letters": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The tenant's dead letters: events a stream job could not apply because of the event itself (a backend failure is retried, never dead-lettered). Kept 7 days. */
        get: operations["behaviors_dead_letters"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/behaviors/dead_letters/replay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Re-queues dead letters after a fix: each event goes back on the event bus for the one stream job that failed on it, and its dead letter is removed. */
        post: operations["behaviors_replay"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/behaviors/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["behaviors_stats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/jobs/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A training job: state (queued, running, succeeded, failed), stage, progress 0–1, the versions it registered, and its error if it failed. */
        get: operations["jobs_job"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/recommend": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["recommend_recommend"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["scenarios_list"];
        put?: never;
        post: operations["scenarios_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["scenarios_get"];
        put: operations["scenarios_replace"];
        post?: never;
        /** @description Deletes the scenario with its items and profiles. To keep them, PATCH `status` to `inactive` instead. */
        delete: operations["scenarios_delete"];
        options?: never;
        head?: never;
        patch: operations["scenarios_patch"];
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/experiments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["experiments_list"];
        put?: never;
        /** @description Creates an experiment (as a draft): groups with traffic ratios summing to at most 1 (the rest is a holdout served the scenario's own config), each with a merge patch of the scenario's config that must validate once merged. */
        post: operations["experiments_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["experiments_get"];
        /** @description Replaces name, groups and times of an experiment that is not running. */
        put: operations["experiments_replace"];
        post?: never;
        delete: operations["experiments_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/results": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Per group, from the event warehouse: users, impressions, clicks, CTR, orders, conversion rate, average watch time, revenue; each group against the control with absolute and relative lift, a 95% confidence interval and a p-value (two-proportion z-test for rates, Welch's t-test for means); and the sample-ratio-mismatch check (χ², mismatch below p = 0.001). The window is at most 366 days. */
        get: operations["experiments_results"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Starts assigning users (from start_time, if later). A scenario runs one experiment at a time. */
        post: operations["experiments_start"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/experiments/{experiment_id}/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["experiments_stop"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/hot": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The hot set the item hot score job keeps (1-hour window, time-decayed). */
        get: operations["realtime_hot"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/items": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["items_list"];
        put?: never;
        post: operations["items_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/items/bulk": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Creates or replaces items from an NDJSON body (one item object per line), streamed: any size, in batches of 1,000. A bad line is reported with its line number and skipped. */
        post: operations["items_bulk"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/items/{item_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["items_get"];
        put?: never;
        post?: never;
        delete: operations["items_delete"];
        options?: never;
        head?: never;
        patch: operations["items_patch"];
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/items/{item_id}/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description An item's running event counts, kept by the item hot score job. */
        get: operations["realtime_item_stats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["jobs_jobs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/jobs/cf": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Retrains the scenario's collaborative filtering now, from every event acknowledged before the call (it runs on a schedule too). */
        post: operations["jobs_train_cf"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/jobs/precompute": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Starts a job that fills the scenario's result cache (config.cache) with the answer to a plain request (no context, default count) of every user with an interaction in the last active_days (the most recent 100,000 at most); answers at once with its record. */
        post: operations["jobs_precompute"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/jobs/train": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Starts a training job and answers at once with its record; follow it at /api/v1/jobs/{job_id}. Each learned model is measured on held-out interactions, registered as a new version and activated; a failed job leaves the serving versions in place. */
        post: operations["jobs_train"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/metrics/realtime": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["realtime_realtime_metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The scenario's registered model versions, newest first per model, with their offline metrics, status, and whether this process serves them. */
        get: operations["models_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/models/{model_name}/rollback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Activates the version that served before the current one. */
        post: operations["models_rollback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/models/{model_name}/versions/{version}/activate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Loads the version and makes it the serving one (hot swap: requests in flight finish with the model they started with). */
        post: operations["models_activate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/users/{user_id}/profile": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The profile the user profile aggregator keeps (5-minute windows). */
        get: operations["realtime_profile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/scenarios/{scenario_id}/versions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The newest 100 versions of the scenario's config (older ones are not kept), newest first; revert by sending an old version's config with PUT (which makes it the newest version). */
        get: operations["scenarios_versions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["ops_healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["ops_metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["ops_readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Accepted: {
            event_id: string;
            status: components["schemas"]["Stored"];
        };
        BatchReport: {
            /** @description Events stored now. */
            accepted: number;
            /** @description Events whose client `event_id` was stored before (not stored again). */
            duplicates: number;
            /**
             * @description Every event not taken, with why: invalid (4xx codes: fix it) or not stored because the bus
             *     took part of the batch only (`unavailable`: send that event again).
             */
            errors: components["schemas"]["EventError"][];
            /** @description The ids of the accepted events, in order. */
            event_ids: string[];
            rejected: number;
            /** @description Every event taken (stored now or a duplicate), in order. */
            results: components["schemas"]["EventResult"][];
        };
        BulkReport: {
            /** Format: int64 */
            created: number;
            /** @description The first rejections, with line number and reason. */
            errors: components["schemas"]["LineError"][];
            /** @description True when there were more rejections than `errors` lists. */
            errors_truncated: boolean;
            /** Format: int64 */
            rejected: number;
            /** Format: int64 */
            updated: number;
        };
        /** @description The result cache of a scenario (SPEC §4.2's `recommend:` key): off unless turned on. */
        CacheConfig: {
            /**
             * @description Answers are cached per user and request, and served from the cache while nothing they
             *     depend on changed.
             */
            enabled?: boolean;
            /**
             * Format: int64
             * @description How long a cached answer may be served, 1 to 3,600 (600).
             */
            ttl_seconds?: number;
        };
        /** @description What `POST …/jobs/cf` answers: the round it ran, synchronously. */
        CfReport: {
            /** @description (user, item) pairs with positive interest in the window. */
            interactions: number;
            items: number;
            job_id: string;
            /** @description The learned models trained and activated in this round (`als`, `ease`). */
            models: string[];
            scenario_id: string;
            /** Format: double */
            took_ms: number;
            users: number;
        };
        /** @description A number from 0 to 1, or "auto": fitted by the training job on a validation split. */
        ChannelWeight: number | "auto";
        /** @description A treatment against the control on one metric. */
        Comparison: {
            /** @description The 95 % confidence interval of the absolute lift. */
            absolute_ci: number[];
            /**
             * Format: double
             * @description treatment − control.
             */
            absolute_lift: number;
            /** Format: double */
            control: number;
            /**
             * Format: double
             * @description Two-sided.
             */
            p_value: number;
            /** @description The absolute interval divided by the control value. */
            relative_ci?: number[] | null;
            /**
             * Format: double
             * @description (treatment − control) / control; absent when the control is 0.
             */
            relative_lift?: number | null;
            /** @description p < 0.05. */
            significant: boolean;
            /** Format: double */
            treatment: number;
        };
        CreateExperiment: {
            end_time?: null | string | number;
            experiment_id: string;
            groups: components["schemas"]["ExperimentGroup"][];
            name?: string | null;
            /** @description RFC 3339 or epoch seconds / milliseconds. */
            start_time?: null | string | number;
        };
        CreateScenario: {
            /** @description The config of SPEC §5: features, recall, rank, rerank. */
            config: components["schemas"]["ScenarioConfig"];
            name?: string | null;
            scenario_id: string;
            /** @description vlog, news, ecommerce, ... (free, lowercase letters, digits and '_'). */
            scenario_type: string;
            status?: null | components["schemas"]["ScenarioStatus"];
        };
        Dashboard: {
            /**
             * Format: double
             * @description The mean value of play and view events (watch time).
             */
            avg_watch_time?: number | null;
            /** @description Events per type. */
            by_type: {
                [key: string]: number;
            };
            /** Format: int64 */
            clicks: number;
            /**
             * Format: double
             * @description orders / impressions.
             */
            conversion_rate?: number | null;
            /**
             * Format: double
             * @description clicks / impressions.
             */
            ctr?: number | null;
            /** Format: int64 */
            events: number;
            from: string;
            /** Format: int64 */
            impressions: number;
            /** Format: int64 */
            orders: number;
            /**
             * Format: double
             * @description The sum of order values.
             */
            revenue: number;
            to: string;
        };
        DeadLetterPage: {
            /** @description In id order (`{job}/{event_id}`: by job, then by event time). */
            dead_letters: Record<string, unknown>[];
            /** @description Pass as `cursor` for the next page; absent on the last one. */
            next_cursor?: string | null;
        };
        Distribution: {
            buckets: {
                [key: string]: number;
            };
            by: string;
        };
        /** @description The body of every error answer. */
        ErrorBody: {
            /**
             * @description Stable, machine-readable: e.g. `missing_tenant`, `invalid_config`, `not_found`.
             * @enum {string}
             */
            code: "missing_tenant" | "missing_user_id" | "invalid_header" | "invalid_authorization" | "malformed_json" | "unreadable_body" | "invalid_query" | "body_read_failed" | "body_too_large" | "unsupported_media_type" | "method_not_allowed" | "invalid_tenant_id" | "invalid_scenario_id" | "invalid_item_id" | "invalid_user_id" | "invalid_body" | "invalid_json" | "invalid_config" | "invalid_experiment" | "invalid_item" | "invalid_status" | "invalid_event" | "invalid_context" | "invalid_ids" | "invalid_count" | "invalid_cursor" | "invalid_limit" | "invalid_n" | "invalid_filter" | "invalid_steps" | "invalid_time" | "invalid_timestamp" | "invalid_time_range" | "invalid_window" | "invalid_trigger" | "invalid_groups" | "line_too_long" | "invalid_experiment_id" | "invalid_scenario_type" | "scenario_id_mismatch" | "invalid_event_type" | "invalid_request_id" | "invalid_event_id" | "invalid_value" | "invalid_job" | "batch_too_large" | "too_many_exclusions" | "too_many_filters" | "unknown_metric" | "unknown_dimension" | "invalid_group_id" | "invalid_vectors" | "unknown_event_type" | "unknown_interval" | "unknown_model" | "unknown_scenario" | "empty_import" | "mixed_tenants" | "duplicate_model" | "model_not_in_build" | "model_not_trainable" | "bad_backend_url" | "not_found" | "scenario_exists" | "item_exists" | "experiment_exists" | "model_version_exists" | "version_conflict" | "scenario_inactive" | "experiment_running" | "experiment_already_running" | "experiment_not_running" | "experiment_ended" | "no_previous_version" | "artifact_missing" | "no_training_data" | "cache_disabled" | "item_not_in_catalog" | "event_in_flight" | "missing_token" | "invalid_token" | "token_expired" | "tenant_mismatch" | "read_only_token" | "insufficient_scope" | "user_mismatch" | "unknown_tenant" | "tenant_suspended" | "tenant_status_unknown" | "quota_exceeded" | "rate_limited" | "too_many_in_flight" | "too_many_jobs" | "unavailable" | "overloaded" | "timeout" | "internal";
            /** @description For validation errors: each problem with its JSON path. */
            errors?: components["schemas"]["FieldError"][] | null;
            /** @description What went wrong and what to do about it. */
            message: string;
        };
        EventBatch: {
            /**
             * @description Each an event (`EventInput`), checked on its own: an invalid one is reported in `errors`
             *     with its index and the others are accepted, so the batch takes any JSON values here.
             *     Kept as raw JSON until each event is read: a body of many events then takes about its
             *     own size in memory, not the many times more that a tree of values would.
             */
            events: unknown[];
        };
        EventError: {
            /** @enum {string} */
            code: "missing_tenant" | "missing_user_id" | "invalid_header" | "invalid_authorization" | "malformed_json" | "unreadable_body" | "invalid_query" | "body_read_failed" | "body_too_large" | "unsupported_media_type" | "method_not_allowed" | "invalid_tenant_id" | "invalid_scenario_id" | "invalid_item_id" | "invalid_user_id" | "invalid_body" | "invalid_json" | "invalid_config" | "invalid_experiment" | "invalid_item" | "invalid_status" | "invalid_event" | "invalid_context" | "invalid_ids" | "invalid_count" | "invalid_cursor" | "invalid_limit" | "invalid_n" | "invalid_filter" | "invalid_steps" | "invalid_time" | "invalid_timestamp" | "invalid_time_range" | "invalid_window" | "invalid_trigger" | "invalid_groups" | "line_too_long" | "invalid_experiment_id" | "invalid_scenario_type" | "scenario_id_mismatch" | "invalid_event_type" | "invalid_request_id" | "invalid_event_id" | "invalid_value" | "invalid_job" | "batch_too_large" | "too_many_exclusions" | "too_many_filters" | "unknown_metric" | "unknown_dimension" | "invalid_group_id" | "invalid_vectors" | "unknown_event_type" | "unknown_interval" | "unknown_model" | "unknown_scenario" | "empty_import" | "mixed_tenants" | "duplicate_model" | "model_not_in_build" | "model_not_trainable" | "bad_backend_url" | "not_found" | "scenario_exists" | "item_exists" | "experiment_exists" | "model_version_exists" | "version_conflict" | "scenario_inactive" | "experiment_running" | "experiment_already_running" | "experiment_not_running" | "experiment_ended" | "no_previous_version" | "artifact_missing" | "no_training_data" | "cache_disabled" | "item_not_in_catalog" | "event_in_flight" | "missing_token" | "invalid_token" | "token_expired" | "tenant_mismatch" | "read_only_token" | "insufficient_scope" | "user_mismatch" | "unknown_tenant" | "tenant_suspended" | "tenant_status_unknown" | "quota_exceeded" | "rate_limited" | "too_many_in_flight" | "too_many_jobs" | "unavailable" | "overloaded" | "timeout" | "internal";
            /** @description Position of the event in `events`, from 0. */
            index: number;
            message: string;
        };
        /** @description One behavior event as sent by a client. */
        EventInput: {
            context?: Record<string, unknown> | null;
            /**
             * @description Your id for this event, to make sending it idempotent: 1–128 letters, digits, `-`, `_`
             *     or `.` (a UUID or ULID fits), unique within the tenant. An event whose `event_id` was
             *     stored in the last 7 days (the bus's retention) is answered `duplicate` and stored,
             *     counted and folded once, however often it is sent or retried.
             */
            event_id?: string | null;
            /** @description impression, click, view, play, read, learn, like, share, comment, add_cart, order, payment. */
            event_type: components["schemas"]["EventType"];
            item_id: string;
            /** @description The `request_id` of the recommend answer this event follows. */
            request_id?: string | null;
            scenario_id: string;
            /** @description RFC 3339, or epoch seconds/milliseconds; the time of receipt when absent. */
            timestamp?: null | string | number;
            user_id: string;
            /**
             * Format: double
             * @description e.g. watch seconds for play, price for order; at most 10^12 in magnitude.
             */
            value?: number | null;
        };
        /** @description One taken event of a batch. */
        EventResult: {
            event_id: string;
            /** @description Position of the event in `events`, from 0. */
            index: number;
            status: components["schemas"]["Stored"];
        };
        EventStats: {
            /**
             * Format: int64
             * @description Dead letters this tenant has (of every stream job), kept 7 days.
             */
            dead_letters: number;
            /**
             * Format: int64
             * @description Events of this tenant on the event bus (everything ever acknowledged, and replays).
             */
            events: number;
            /**
             * Format: int64
             * @description Events of this tenant the warehouse holds (lags the bus by the sink's batch).
             */
            warehouse_events: number;
        };
        /**
         * @description The twelve behavior types of SPEC §3.3.
         * @enum {string}
         */
        EventType: "impression" | "click" | "view" | "play" | "read" | "learn" | "like" | "share" | "comment" | "add_cart" | "order" | "payment";
        ExperimentGroup: {
            /** @description A merge patch of the scenario's config (`{}` for a control group). */
            config?: Record<string, unknown>;
            group_id: string;
            /** @description The share of the scenario's users in this group, in (0, 1]. */
            traffic_ratio: number;
        };
        ExperimentList: {
            experiments: components["schemas"]["ExperimentView"][];
        };
        ExperimentResults: {
            comparisons: components["schemas"]["GroupComparison"][];
            /** @description The group the others are compared with: `control` if there is one, else the first. */
            control: string;
            experiment_id: string;
            from: string;
            groups: components["schemas"]["GroupResult"][];
            sample_ratio: components["schemas"]["SampleRatio"];
            status: components["schemas"]["ExperimentStatus"];
            to: string;
        };
        /** @enum {string} */
        ExperimentStatus: "draft" | "running" | "stopped";
        ExperimentView: {
            created_at: string;
            end_time?: string | null;
            experiment_id: string;
            groups: components["schemas"]["ExperimentGroup"][];
            /**
             * Format: double
             * @description The share of users in no group (served the scenario's own config).
             */
            holdout_ratio: number;
            name: string;
            scenario_id: string;
            start_time?: string | null;
            status: components["schemas"]["ExperimentStatus"];
            updated_at: string;
            /** Format: int64 */
            version: number;
        };
        FeatureSpec: {
            name: string;
            type: components["schemas"]["FeatureType"];
            weight?: number;
        };
        /** @enum {string} */
        FeatureType: "numeric" | "categorical" | "multi_categorical" | "timestamp";
        FeaturesConfig: {
            item_features?: components["schemas"]["FeatureSpec"][];
            user_features?: components["schemas"]["FeatureSpec"][];
        };
        /** @description One problem at one place of a JSON document, e.g. `config.recall.strategies[1].limit`. */
        FieldError: {
            message: string;
            path: string;
        };
        Funnel: {
            steps: components["schemas"]["FunnelStep"][];
            /** Format: double */
            window_hours: number;
        };
        FunnelStep: {
            /**
             * Format: double
             * @description users / the first step's users.
             */
            conversion?: number | null;
            event_type: string;
            /**
             * Format: int64
             * @description Users who reached this step after all the earlier ones, in order, within the window.
             */
            users: number;
        };
        GroupComparison: {
            avg_watch_time?: null | components["schemas"]["Comparison"];
            conversion_rate?: null | components["schemas"]["Comparison"];
            ctr?: null | components["schemas"]["Comparison"];
            group_id: string;
        };
        GroupResult: {
            /**
             * Format: double
             * @description Their mean value (seconds).
             */
            avg_watch_time?: number | null;
            /** Format: int64 */
            clicks: number;
            /**
             * Format: double
             * @description orders / impressions.
             */
            conversion_rate?: number | null;
            /**
             * Format: double
             * @description clicks / impressions.
             */
            ctr?: number | null;
            group_id: string;
            /** Format: int64 */
            impressions: number;
            /** Format: int64 */
            orders: number;
            /**
             * Format: double
             * @description The sum of order values.
             */
            revenue: number;
            /** Format: double */
            traffic_ratio: number;
            /**
             * Format: int64
             * @description Distinct users with an event in the window.
             */
            users: number;
            /**
             * Format: int64
             * @description Play and view events with a value.
             */
            watches: number;
        };
        HotItem: {
            /**
             * Format: double
             * @description The item's events of the last hour, each weighted by type and decayed by its age.
             */
            hotness: number;
            item_id: string;
        };
        /** @description The hot set, hottest first. */
        HotItems: {
            items: components["schemas"]["HotItem"][];
        };
        /** @description An item as a client sends it (one create, one NDJSON line of a bulk import). */
        ItemInput: {
            embedding?: number[] | null;
            item_id: string;
            /**
             * @description Free fields; `category` (string), `tags` (strings), `location` (string) and
             *     `publish_time` (RFC 3339 or epoch) have a meaning to the engine.
             */
            metadata?: Record<string, unknown>;
            status?: null | components["schemas"]["ItemStatus"];
        };
        ItemPage: {
            items: components["schemas"]["ItemView"][];
            /** @description Pass as `cursor` for the next page; absent on the last page. */
            next_cursor?: string | null;
        };
        /** @description A partial update: `metadata` is merged (JSON merge patch: `null` removes a field). */
        ItemPatch: {
            /** @description A vector replaces the embedding; `null` removes it. */
            embedding?: number[] | null;
            metadata?: Record<string, unknown> | null;
            status?: null | components["schemas"]["ItemStatus"];
        };
        ItemStats: {
            /**
             * @description Events of each type ever counted for the item (`click_count`, `view_count`, …), across
             *     the tenant's scenarios (SPEC §4.2 `item:stats:{tenant_id}:{item_id}`).
             */
            counts: {
                [key: string]: number;
            };
            item_id: string;
        };
        /** @enum {string} */
        ItemStatus: "active" | "inactive";
        ItemView: {
            created_at: string;
            embedding?: number[] | null;
            item_id: string;
            metadata: Record<string, unknown>;
            scenario_id: string;
            status: components["schemas"]["ItemStatus"];
            updated_at: string;
        };
        JobList: {
            jobs: components["schemas"]["JobRecord"][];
        };
        /** @description A training job: what it trains, how far it is, and what it produced. */
        JobRecord: {
            /**
             * Format: int32
             * @description How many times a worker has claimed it (a claim whose worker died is retried, up to a
             *     limit).
             */
            attempts?: number;
            /** Format: int64 */
            created_ms: number;
            /** @description Counts of what it trained on (interactions, users, items, impressions). */
            data?: {
                [key: string]: number;
            };
            error?: string | null;
            /** @description The stable code of `error` (`no_training_data`, `internal`, …). */
            error_code?: string | null;
            /** Format: int64 */
            finished_ms?: number | null;
            /**
             * Format: int64
             * @description Refreshed while it runs; a running job whose heartbeat stopped lost its process.
             */
            heartbeat_ms: number;
            job_id: string;
            /** @description `train`. */
            kind: string;
            /** @description The models asked for; empty means every model the scenario's config uses. */
            models: string[];
            /**
             * Format: double
             * @description 0 to 1.
             */
            progress: number;
            /**
             * Format: int64
             * @description Bumped by every write: the job queue's compare-and-swap token, so a worker that lost its
             *     claim (its lease ran out and another took the job) can no longer write the record.
             */
            revision?: number;
            scenario_id: string;
            /** @description What it is doing now (`reading events`, `training als`, …). */
            stage: string;
            /** Format: int64 */
            started_ms?: number | null;
            state: components["schemas"]["JobState"];
            /** @description `api`, `cli`, `schedule`. */
            trigger: string;
            /**
             * @description Whether its recall models search their hyperparameters on a validation split (`POST
             *     …/jobs/train`, `polyrec train`); otherwise each is fitted with its serving version's, or
             *     the defaults (the schedule's rounds, the synchronous `POST …/jobs/cf`).
             */
            tune?: boolean;
            /** @description The versions it registered, model name → version. */
            versions?: {
                [key: string]: string;
            };
            /** @description The process that holds it while it runs (its instance id). */
            worker?: string | null;
        };
        /** @enum {string} */
        JobState: "queued" | "running" | "succeeded" | "failed";
        LineError: {
            /** @enum {string} */
            code: "missing_tenant" | "missing_user_id" | "invalid_header" | "invalid_authorization" | "malformed_json" | "unreadable_body" | "invalid_query" | "body_read_failed" | "body_too_large" | "unsupported_media_type" | "method_not_allowed" | "invalid_tenant_id" | "invalid_scenario_id" | "invalid_item_id" | "invalid_user_id" | "invalid_body" | "invalid_json" | "invalid_config" | "invalid_experiment" | "invalid_item" | "invalid_status" | "invalid_event" | "invalid_context" | "invalid_ids" | "invalid_count" | "invalid_cursor" | "invalid_limit" | "invalid_n" | "invalid_filter" | "invalid_steps" | "invalid_time" | "invalid_timestamp" | "invalid_time_range" | "invalid_window" | "invalid_trigger" | "invalid_groups" | "line_too_long" | "invalid_experiment_id" | "invalid_scenario_type" | "scenario_id_mismatch" | "invalid_event_type" | "invalid_request_id" | "invalid_event_id" | "invalid_value" | "invalid_job" | "batch_too_large" | "too_many_exclusions" | "too_many_filters" | "unknown_metric" | "unknown_dimension" | "invalid_group_id" | "invalid_vectors" | "unknown_event_type" | "unknown_interval" | "unknown_model" | "unknown_scenario" | "empty_import" | "mixed_tenants" | "duplicate_model" | "model_not_in_build" | "model_not_trainable" | "bad_backend_url" | "not_found" | "scenario_exists" | "item_exists" | "experiment_exists" | "model_version_exists" | "version_conflict" | "scenario_inactive" | "experiment_running" | "experiment_already_running" | "experiment_not_running" | "experiment_ended" | "no_previous_version" | "artifact_missing" | "no_training_data" | "cache_disabled" | "item_not_in_catalog" | "event_in_flight" | "missing_token" | "invalid_token" | "token_expired" | "tenant_mismatch" | "read_only_token" | "insufficient_scope" | "user_mismatch" | "unknown_tenant" | "tenant_suspended" | "tenant_status_unknown" | "quota_exceeded" | "rate_limited" | "too_many_in_flight" | "too_many_jobs" | "unavailable" | "overloaded" | "timeout" | "internal";
            item_id?: string | null;
            /**
             * Format: int64
             * @description 1-based line number in the upload.
             */
            line: number;
            message: string;
        };
        /** @enum {string} */
        ModelKind: "recall" | "rank";
        ModelList: {
            models: components["schemas"]["ModelView"][];
        };
        /** @enum {string} */
        ModelStatus: "active" | "inactive";
        ModelView: {
            activated_at?: string | null;
            config: Record<string, unknown>;
            created_at: string;
            job_id: string;
            /** @description Offline metrics on held-out data. */
            metrics: {
                [key: string]: number;
            };
            model_name: string;
            /** @description The artifact's key in the blob store. */
            model_path: string;
            model_type: components["schemas"]["ModelKind"];
            model_version: string;
            scenario_id: string;
            /** @description Whether this process serves it (the active version, or the one `rank.version` pins). */
            serving: boolean;
            status: components["schemas"]["ModelStatus"];
        };
        /**
         * @description A partial update: any of these fields; `config` is merged into the stored config (JSON merge
         *     patch, `null` removes) and the result is validated whole.
         */
        PatchScenario: {
            config?: Record<string, unknown> | null;
            name?: string | null;
            scenario_type?: null | string;
            status?: null | components["schemas"]["ScenarioStatus"];
        };
        Point: {
            t: string;
            /** Format: double */
            value?: number | null;
        };
        PrecomputeRequest: {
            /**
             * Format: int64
             * @description Users with an interaction in the last this many days are answered (1–90, default 7).
             */
            active_days?: number | null;
        };
        ProfileFeatures: {
            /** @description Events per hour of day (UTC), 24 entries. */
            active_hours: number[];
            /** @description The top categories by score, best first. */
            favorite_categories: string[];
            /** @description Items interacted with most recently, newest first (capped). */
            recent_items: string[];
            /** Format: int64 */
            total_impressions: number;
            /**
             * Format: int64
             * @description Count of positive (non-impression) events.
             */
            total_watch_count: number;
            /**
             * Format: double
             * @description Sum of `value` over play/view/read/learn events (e.g. watch seconds).
             */
            total_watch_value: number;
        };
        ProfilePreferences: {
            /** @description Interest per category: the sum of event interest weights, decayed over time. */
            category_scores: {
                [key: string]: number;
            };
            /** @description Interest per tag, like category_scores. */
            tag_scores: {
                [key: string]: number;
            };
        };
        RankConfig: {
            /** @enum {string} */
            model: "weighted" | "interaction_ranker" | "lightgbm" | "deepfm" | "wide_deep";
            /** @enum {string|null} */
            objective?: "click_rate" | "watch_time" | "conversion" | null;
            params?: Record<string, unknown>;
            version?: string | null;
        };
        RealtimeMetrics: {
            /**
             * @description Counters of the last hour: impressions, clicks, views, conversions, ... and per
             *     experiment group `exp:{experiment}:{group}:{counter}`.
             */
            counters: {
                [key: string]: number;
            };
            /**
             * Format: double
             * @description clicks / impressions, when there were impressions.
             */
            ctr?: number | null;
        };
        RecallConfig: {
            strategies: components["schemas"]["RecallStrategySpec"][];
        };
        /**
         * @description One recall channel: `name` picks the strategy, `weight` scales its scores in the merge,
         *     `limit` caps how many candidates it returns.
         */
        RecallStrategySpec: {
            limit: number;
            /** @enum {string} */
            name: "hot_items" | "hot_news" | "latest" | "location" | "item_cf" | "user_cf" | "content_based" | "vector_search" | "ease" | "dlae" | "sparse_ease";
            params?: Record<string, unknown>;
            /** @description Deadline for this channel; past it the channel is reported as failed. */
            timeout_ms?: number | null;
            weight: number;
        };
        RecommendRequest: {
            /** @description Free request context, e.g. {"device_type": "mobile", "location": "paris"}. */
            context?: Record<string, unknown> | null;
            /**
             * Format: int64
             * @description 1 to 500, default 20.
             */
            count?: number | null;
            /** @description Items never to return in this answer. */
            exclude_item_ids?: string[] | null;
            /** @description Adds where each item came from and its score after each stage. */
            explain?: boolean | null;
            scenario_id: string;
        };
        RecommendResponse: {
            /** @description Served from the scenario's result cache (`config.cache`). */
            cached: boolean;
            /** @description With `explain`: candidates after merge and fallback. */
            candidates?: number | null;
            /** @description With `explain`: every channel's report. */
            channels?: Record<string, unknown>[] | null;
            /**
             * Format: int64
             * @description The version of the scenario config that answered.
             */
            config_version: number;
            /** @description Recall channels that failed or ran out of time; the answer comes from the others. */
            degraded_channels: Record<string, unknown>[];
            /**
             * @description The running experiment the user is assigned in, and their group (absent: none runs, or
             *     the user is in its holdout). Report `request_id` with the events of this answer.
             */
            experiment_id?: string | null;
            /** @description True when the cold-start fallback filled the answer. */
            fallback: boolean;
            group_id?: string | null;
            items: components["schemas"]["RecommendedItem"][];
            request_id: string;
            scenario_id: string;
            /** Format: double */
            took_ms: number;
            user_id: string;
        };
        RecommendedItem: {
            /** @description With `explain`: the recall channels that found the item, with their scaled scores. */
            channels?: Record<string, unknown>[] | null;
            item_id: string;
            /** Format: double */
            rank_score?: number | null;
            /** Format: double */
            recall_score?: number | null;
            /** Format: double */
            score: number;
            /** @description With `explain`: the score after recall, rank and each rerank rule. */
            stages?: Record<string, unknown>[] | null;
        };
        ReplaceExperiment: {
            end_time?: null | string | number;
            groups: components["schemas"]["ExperimentGroup"][];
            name?: string | null;
            start_time?: null | string | number;
        };
        /** @description The whole scenario; a `scenario_id` in it, if sent, must be the path's. */
        ReplaceScenario: {
            config: components["schemas"]["ScenarioConfig"];
            name?: string | null;
            scenario_type: string;
            status?: null | components["schemas"]["ScenarioStatus"];
        };
        ReplayReport: {
            /**
             * @description Dead letters re-queued: each event is back on the bus for the one job that failed on
             *     it, and its dead letter is gone (it comes back if the job fails on it again).
             */
            replayed: number;
        };
        ReplayRequest: {
            /** @description Only these dead letters (ids from the list); the first `limit` otherwise. */
            ids?: string[] | null;
            job?: null | components["schemas"]["StreamJob"];
            /** @description At most this many, 1 to 1,000 (default 1,000). */
            limit?: number | null;
        };
        RerankConfig: {
            rules?: components["schemas"]["RerankRuleSpec"][];
        };
        RerankRuleSpec: {
            /** @enum {string} */
            name: "diversity" | "mmr" | "freshness" | "location_match" | "business_rules";
            params?: Record<string, unknown>;
            weight?: number;
        };
        SampleRatio: {
            /** @description Each group's share of users by its traffic ratio, normalised over the groups. */
            expected: number[];
            /** @description p < 0.001: the split is not what the ratios say — do not trust the lifts. */
            mismatch: boolean;
            observed_users: number[];
            /**
             * Format: double
             * @description Pearson's χ² p-value; absent with fewer than two groups or no users.
             */
            p_value?: number | null;
        };
        /** @description The four parts of SPEC §5, and the result cache. */
        ScenarioConfig: {
            cache?: components["schemas"]["CacheConfig"];
            features?: components["schemas"]["FeaturesConfig"];
            rank: components["schemas"]["RankConfig"];
            recall: components["schemas"]["RecallConfig"];
            rerank?: components["schemas"]["RerankConfig"];
        };
        ScenarioHistory: {
            /** @description Newest first. */
            versions: components["schemas"]["ScenarioView"][];
        };
        ScenarioList: {
            scenarios: components["schemas"]["ScenarioView"][];
        };
        /** @enum {string} */
        ScenarioStatus: "active" | "inactive";
        ScenarioView: {
            config: components["schemas"]["ScenarioConfig"];
            created_at: string;
            name: string;
            scenario_id: string;
            scenario_type: string;
            status: components["schemas"]["ScenarioStatus"];
            updated_at: string;
            /**
             * Format: int64
             * @description Grows by one with every change.
             */
            version: number;
        };
        /**
         * @description What became of an event the service took.
         * @enum {string}
         */
        Stored: "stored" | "duplicate";
        /**
         * @description The stream jobs, as the API names them (`jobs::STREAM_JOBS`).
         * @enum {string}
         */
        StreamJob: "warehouse_sink" | "user_profile_aggregator" | "item_hot_score" | "recommendation_metrics";
        TopItem: {
            /** Format: int64 */
            events: number;
            item_id: string;
        };
        TopItems: {
            event_type: string;
            items: components["schemas"]["TopItem"][];
        };
        TrainRequest: {
            /**
             * @description The models to train (`als`, `ease`, `lightgbm`, `deepfm`, `wide_deep`); empty or absent:
             *     every model the scenario's config uses.
             */
            models?: ("als" | "ease" | "dlae" | "sparse_ease" | "item_cf" | "blend" | "interaction_ranker" | "lightgbm" | "deepfm" | "wide_deep")[];
            /**
             * @description Who asked (`api` unless given, `cli` from `polyrec train`).
             * @enum {string|null}
             */
            trigger?: "api" | "cli" | null;
        };
        Trend: {
            interval: string;
            metric: string;
            points: components["schemas"]["Point"][];
        };
        UserProfile: {
            /**
             * @description Per aggregation window (start, epoch ms): the highest event-bus offset folded in from it.
             *     A replay after a restart skips a window's events at or below its mark, so a fold is
             *     idempotent even when windows close out of offset order. Kept for a day of windows.
             */
            applied_windows?: {
                [key: string]: number;
            };
            features: components["schemas"]["ProfileFeatures"];
            preferences: components["schemas"]["ProfilePreferences"];
            scenario_id: string;
            /** Format: int64 */
            updated_ms: number;
            user_id: string;
            /**
             * Format: int64
             * @description End (event time, epoch ms) of the last aggregation window folded into this profile.
             */
            window_end_ms: number;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    analytics_dashboard: {
        parameters: {
            query?: {
                /** @description Only this scenario (all the tenant's by default). */
                scenario_id?: string;
                /** @description RFC 3339 or epoch seconds / ms; default 24 hours before `to`. */
                from?: string;
                /** @description Default now. */
                to?: string;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dashboard"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    analytics_distributions: {
        parameters: {
            query: {
                /** @description event_type, hour_of_day, device, category or group (`{experiment_id}/{group}`). */
                by: "event_type" | "hour_of_day" | "device" | "category" | "group";
                /** @description With `by=group`: only this experiment's groups, keyed by group id. */
                experiment_id?: string;
                scenario_id?: string;
                from?: string;
                to?: string;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Distribution"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    analytics_funnel: {
        parameters: {
            query: {
                scenario_id: string;
                /** @description Event types in order, comma-separated; default impression,click,add_cart,order. */
                steps?: string;
                /** @description A user's steps must all fall within this many hours of their first step (default 24). */
                window_hours?: number;
                from?: string;
                to?: string;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Funnel"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    analytics_top_items: {
        parameters: {
            query: {
                scenario_id: string;
                /** @description Default click. */
                event_type?: "impression" | "click" | "view" | "play" | "read" | "learn" | "like" | "share" | "comment" | "add_cart" | "order" | "payment";
                /** @description 1–1000, default 20. */
                n?: number;
                from?: string;
                to?: string;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TopItems"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    analytics_trends: {
        parameters: {
            query: {
                /** @description events, ctr, conversion_rate, avg_watch_time, revenue, or an event type (impression, click, …). */
                metric: "events" | "ctr" | "conversion_rate" | "avg_watch_time" | "revenue" | "impression" | "click" | "view" | "play" | "read" | "learn" | "like" | "share" | "comment" | "add_cart" | "order" | "payment";
                /** @description hour (default) or day. */
                interval?: "hour" | "day";
                /** @description Only events of this type (for `events`). */
                event_type?: "impression" | "click" | "view" | "play" | "read" | "learn" | "like" | "share" | "comment" | "add_cart" | "order" | "payment";
                /** @description Only events from this device (`context.device_type`, or `context.device`). */
                device?: string;
                /** @description Only events on items of this catalog category. */
                category?: string;
                /**
                 * @description Only events of users in this experiment; with `group`, of that group. One of `device`,
                 *     `category` and `experiment_id` at a time.
                 */
                experiment_id?: string;
                group?: string;
                scenario_id?: string;
                from?: string;
                to?: string;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Trend"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    behaviors_track: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EventInput"];
            };
        };
        responses: {
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Accepted"];
                };
            };
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    behaviors_track_batch: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EventBatch"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BatchReport"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    behaviors_dead_letters: {
        parameters: {
            query?: {
                /**
                 * @description Only this stream job's: warehouse_sink, user_profile_aggregator, item_hot_score,
                 *     recommendation_metrics.
                 */
                job?: components["schemas"]["StreamJob"];
                /** @description 1 to 1,000 (default 100). */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeadLetterPage"];
                };
            };
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    behaviors_replay: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReplayRequest"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReplayReport"];
                };
            };
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    behaviors_stats: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EventStats"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    jobs_job: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                job_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobRecord"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    recommend_recommend: {
        parameters: {
            query?: never;
            header: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
                /** @description end user id */
                "X-User-Id": string;
                /** @description trace id, echoed; generated when absent */
                "X-Request-Id"?: string | null;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RecommendRequest"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RecommendResponse"];
                };
            };
            /** @description missing or malformed header */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description unknown scenario */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the scenario is inactive (`scenario_inactive`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description bad body, e.g. count outside 1..=500 */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    scenarios_list: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ScenarioList"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    scenarios_create: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateScenario"];
            };
        };
        responses: {
            /** @description created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ScenarioView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found for this tenant */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the id is taken */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description invalid config: every problem with its JSON path */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    scenarios_get: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ScenarioView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    scenarios_replace: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReplaceScenario"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ScenarioView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    scenarios_delete: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    scenarios_patch: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PatchScenario"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ScenarioView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    experiments_list: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentList"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    experiments_create: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateExperiment"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota (`quota_exceeded`: the scenario has 100 experiments already) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the id is taken */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description every problem with its JSON path */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    experiments_get: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    experiments_replace: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReplaceExperiment"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description running, or changed concurrently */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    experiments_delete: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    experiments_results: {
        parameters: {
            query?: {
                /** @description Start of the window (RFC 3339 or epoch seconds / ms); default the experiment's start. */
                from?: string;
                /** @description End of the window; default its end, or now. */
                to?: string;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentResults"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    experiments_start: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another experiment runs, or this one has ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a group no longer fits the scenario's config */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    experiments_stop: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    realtime_hot: {
        parameters: {
            query?: {
                /** @description How many, 1 to 1000 (default 20). */
                n?: number;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HotItems"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    items_list: {
        parameters: {
            query?: {
                category?: string;
                /** @description active or inactive. */
                status?: "active" | "inactive";
                /** @description RFC 3339 or epoch seconds/milliseconds. */
                updated_since?: string;
                cursor?: string;
                /** @description 1 to 1000, default 100. */
                limit?: number;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ItemPage"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    items_create: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ItemInput"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ItemView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    items_bulk: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/x-ndjson": string;
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BulkReport"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    items_get: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                item_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ItemView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    items_delete: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                item_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    items_patch: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                item_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ItemPatch"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ItemView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    realtime_item_stats: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                item_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ItemStats"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    jobs_jobs: {
        parameters: {
            query?: {
                /** @description At most this many, newest first (1–500, default 50). */
                limit?: number;
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobList"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    jobs_train_cf: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CfReport"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no interactions to train on yet (`no_training_data`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    jobs_precompute: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": null | components["schemas"]["PrecomputeRequest"];
            };
        };
        responses: {
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobRecord"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the scenario's result cache is off */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    jobs_train: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": null | components["schemas"]["TrainRequest"];
            };
        };
        responses: {
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobRecord"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is over max_body_bytes */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the body is not sent as application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description unknown model */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    realtime_realtime_metrics: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RealtimeMetrics"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    models_list: {
        parameters: {
            query?: {
                /** @description Only this model's versions. */
                name?: "als" | "ease" | "dlae" | "sparse_ease" | "item_cf" | "blend" | "interaction_ranker" | "lightgbm" | "deepfm" | "wide_deep";
            };
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelList"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    models_rollback: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                model_name: "als" | "ease" | "dlae" | "sparse_ease" | "item_cf" | "blend" | "interaction_ranker" | "lightgbm" | "deepfm" | "wide_deep";
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no earlier version served */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    models_activate: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                model_name: "als" | "ease" | "dlae" | "sparse_ease" | "item_cf" | "blend" | "interaction_ranker" | "lightgbm" | "deepfm" | "wide_deep";
                /** @description e.g. v3 */
                version: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelView"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    realtime_profile: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
                user_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserProfile"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    scenarios_versions: {
        parameters: {
            query?: never;
            header?: {
                /** @description tenant id */
                "X-Tenant-Id"?: string;
            };
            path: {
                scenario_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ScenarioHistory"];
                };
            };
            /** @description a missing or malformed header or query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no bearer token, or a forged or expired one (when tokens are checked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description another tenant's token, a suspended tenant, or a quota */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request breaks a rule; `code` says which, `errors` where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the tenant is over its rate; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a bug; logged with the request id */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description overloaded, past the request timeout, or a store is unavailable; see Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    ops_healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the process is up */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    ops_metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prometheus text format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `auth.metrics_token` is set and the scrape does not carry it */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    ops_readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the stores answer */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a store does not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
}
