# Generated from the server's /openapi.json by `python generate.py --openapi URL`
# (datamodel-code-generator): do not edit.

from __future__ import annotations

from typing import Any, Literal, TypeAlias, TypedDict

from typing_extensions import NotRequired


class CacheConfig(TypedDict):
    """
    The result cache of a scenario (SPEC §4.2's `recommend:` key): off unless turned on.
    """

    enabled: NotRequired[bool]
    """
    Answers are cached per user and request, and served from the cache while nothing they
    depend on changed.
    """
    ttl_seconds: NotRequired[int]
    """
    How long a cached answer may be served, 1 to 3,600 (600).
    """


class CfReport(TypedDict):
    """
    What `POST …/jobs/cf` answers: the round it ran, synchronously.
    """

    interactions: int
    """
    (user, item) pairs with positive interest in the window.
    """
    items: int
    job_id: str
    models: list[str]
    """
    The learned models trained and activated in this round (`als`, `ease`).
    """
    scenario_id: str
    took_ms: float
    users: int


ChannelWeight: TypeAlias = float | Literal['auto']
"""
A number from 0 to 1, or "auto": fitted by the training job on a validation split.
"""


class Comparison(TypedDict):
    """
    A treatment against the control on one metric.
    """

    absolute_ci: list[float]
    """
    The 95 % confidence interval of the absolute lift.
    """
    absolute_lift: float
    """
    treatment − control.
    """
    control: float
    p_value: float
    """
    Two-sided.
    """
    relative_ci: NotRequired[list[float] | None]
    """
    The absolute interval divided by the control value.
    """
    relative_lift: NotRequired[float | None]
    """
    (treatment − control) / control; absent when the control is 0.
    """
    significant: bool
    """
    p < 0.05.
    """
    treatment: float


Dashboard = TypedDict(
    'Dashboard',
    {
        'avg_watch_time': NotRequired[float | None],
        'by_type': dict[str, int],
        'clicks': int,
        'conversion_rate': NotRequired[float | None],
        'ctr': NotRequired[float | None],
        'events': int,
        'from': str,
        'impressions': int,
        'orders': int,
        'revenue': float,
        'to': str,
    },
)


class DeadLetterPage(TypedDict):
    dead_letters: list[dict[str, Any]]
    """
    In id order (`{job}/{event_id}`: by job, then by event time).
    """
    next_cursor: NotRequired[str | None]
    """
    Pass as `cursor` for the next page; absent on the last one.
    """


class Distribution(TypedDict):
    buckets: dict[str, int]
    by: str


class EventBatch(TypedDict):
    events: list[Any]
    """
    Each an event (`EventInput`), checked on its own: an invalid one is reported in `errors`
    with its index and the others are accepted, so the batch takes any JSON values here.
    Kept as raw JSON until each event is read: a body of many events then takes about its
    own size in memory, not the many times more that a tree of values would.
    """


class EventError(TypedDict):
    code: Literal[
        'missing_tenant',
        'missing_user_id',
        'invalid_header',
        'invalid_authorization',
        'malformed_json',
        'unreadable_body',
        'invalid_query',
        'body_read_failed',
        'body_too_large',
        'unsupported_media_type',
        'method_not_allowed',
        'invalid_tenant_id',
        'invalid_scenario_id',
        'invalid_item_id',
        'invalid_user_id',
        'invalid_body',
        'invalid_json',
        'invalid_config',
        'invalid_experiment',
        'invalid_item',
        'invalid_status',
        'invalid_event',
        'invalid_context',
        'invalid_ids',
        'invalid_count',
        'invalid_cursor',
        'invalid_limit',
        'invalid_n',
        'invalid_filter',
        'invalid_steps',
        'invalid_time',
        'invalid_timestamp',
        'invalid_time_range',
        'invalid_window',
        'invalid_trigger',
        'invalid_groups',
        'line_too_long',
        'invalid_experiment_id',
        'invalid_scenario_type',
        'scenario_id_mismatch',
        'invalid_event_type',
        'invalid_request_id',
        'invalid_event_id',
        'invalid_value',
        'invalid_job',
        'batch_too_large',
        'too_many_exclusions',
        'too_many_filters',
        'unknown_metric',
        'unknown_dimension',
        'invalid_group_id',
        'invalid_vectors',
        'unknown_event_type',
        'unknown_interval',
        'unknown_model',
        'unknown_scenario',
        'empty_import',
        'mixed_tenants',
        'duplicate_model',
        'model_not_in_build',
        'model_not_trainable',
        'bad_backend_url',
        'not_found',
        'scenario_exists',
        'item_exists',
        'experiment_exists',
        'model_version_exists',
        'version_conflict',
        'scenario_inactive',
        'experiment_running',
        'experiment_already_running',
        'experiment_not_running',
        'experiment_ended',
        'no_previous_version',
        'artifact_missing',
        'no_training_data',
        'cache_disabled',
        'item_not_in_catalog',
        'event_in_flight',
        'missing_token',
        'invalid_token',
        'token_expired',
        'tenant_mismatch',
        'read_only_token',
        'insufficient_scope',
        'user_mismatch',
        'unknown_tenant',
        'tenant_suspended',
        'tenant_status_unknown',
        'quota_exceeded',
        'rate_limited',
        'too_many_in_flight',
        'too_many_jobs',
        'unavailable',
        'overloaded',
        'timeout',
        'internal',
    ]
    index: int
    """
    Position of the event in `events`, from 0.
    """
    message: str


class EventStats(TypedDict):
    dead_letters: int
    """
    Dead letters this tenant has (of every stream job), kept 7 days.
    """
    events: int
    """
    Events of this tenant on the event bus (everything ever acknowledged, and replays).
    """
    warehouse_events: int
    """
    Events of this tenant the warehouse holds (lags the bus by the sink's batch).
    """


EventType: TypeAlias = Literal[
    'impression',
    'click',
    'view',
    'play',
    'read',
    'learn',
    'like',
    'share',
    'comment',
    'add_cart',
    'order',
    'payment',
]
"""
The twelve behavior types of SPEC §3.3.
"""


class ExperimentGroup(TypedDict):
    config: NotRequired[dict[str, Any]]
    """
    A merge patch of the scenario's config (`{}` for a control group).
    """
    group_id: str
    traffic_ratio: float
    """
    The share of the scenario's users in this group, in (0, 1].
    """


ExperimentStatus: TypeAlias = Literal['draft', 'running', 'stopped']


class ExperimentView(TypedDict):
    created_at: str
    end_time: NotRequired[str | None]
    experiment_id: str
    groups: list[ExperimentGroup]
    holdout_ratio: float
    """
    The share of users in no group (served the scenario's own config).
    """
    name: str
    scenario_id: str
    start_time: NotRequired[str | None]
    status: ExperimentStatus
    updated_at: str
    version: int


FeatureType: TypeAlias = Literal[
    'numeric', 'categorical', 'multi_categorical', 'timestamp'
]


class FieldError(TypedDict):
    """
    One problem at one place of a JSON document, e.g. `config.recall.strategies[1].limit`.
    """

    message: str
    path: str


class FunnelStep(TypedDict):
    conversion: NotRequired[float | None]
    """
    users / the first step's users.
    """
    event_type: str
    users: int
    """
    Users who reached this step after all the earlier ones, in order, within the window.
    """


class GroupComparison(TypedDict):
    avg_watch_time: NotRequired[Comparison | None]
    conversion_rate: NotRequired[Comparison | None]
    ctr: NotRequired[Comparison | None]
    group_id: str


class GroupResult(TypedDict):
    avg_watch_time: NotRequired[float | None]
    """
    Their mean value (seconds).
    """
    clicks: int
    conversion_rate: NotRequired[float | None]
    """
    orders / impressions.
    """
    ctr: NotRequired[float | None]
    """
    clicks / impressions.
    """
    group_id: str
    impressions: int
    orders: int
    revenue: float
    """
    The sum of order values.
    """
    traffic_ratio: float
    users: int
    """
    Distinct users with an event in the window.
    """
    watches: int
    """
    Play and view events with a value.
    """


class HotItem(TypedDict):
    hotness: float
    """
    The item's events of the last hour, each weighted by type and decayed by its age.
    """
    item_id: str


class HotItems(TypedDict):
    """
    The hot set, hottest first.
    """

    items: list[HotItem]


EmbeddingItem: TypeAlias = float


class ItemStats(TypedDict):
    counts: dict[str, int]
    """
    Events of each type ever counted for the item (`click_count`, `view_count`, …), across
    the tenant's scenarios (SPEC §4.2 `item:stats:{tenant_id}:{item_id}`).
    """
    item_id: str


ItemStatus: TypeAlias = Literal['active', 'inactive']


class ItemView(TypedDict):
    created_at: str
    embedding: NotRequired[list[float] | None]
    item_id: str
    metadata: dict[str, Any]
    scenario_id: str
    status: ItemStatus
    updated_at: str


JobState: TypeAlias = Literal['queued', 'running', 'succeeded', 'failed']


class LineError(TypedDict):
    code: Literal[
        'missing_tenant',
        'missing_user_id',
        'invalid_header',
        'invalid_authorization',
        'malformed_json',
        'unreadable_body',
        'invalid_query',
        'body_read_failed',
        'body_too_large',
        'unsupported_media_type',
        'method_not_allowed',
        'invalid_tenant_id',
        'invalid_scenario_id',
        'invalid_item_id',
        'invalid_user_id',
        'invalid_body',
        'invalid_json',
        'invalid_config',
        'invalid_experiment',
        'invalid_item',
        'invalid_status',
        'invalid_event',
        'invalid_context',
        'invalid_ids',
        'invalid_count',
        'invalid_cursor',
        'invalid_limit',
        'invalid_n',
        'invalid_filter',
        'invalid_steps',
        'invalid_time',
        'invalid_timestamp',
        'invalid_time_range',
        'invalid_window',
        'invalid_trigger',
        'invalid_groups',
        'line_too_long',
        'invalid_experiment_id',
        'invalid_scenario_type',
        'scenario_id_mismatch',
        'invalid_event_type',
        'invalid_request_id',
        'invalid_event_id',
        'invalid_value',
        'invalid_job',
        'batch_too_large',
        'too_many_exclusions',
        'too_many_filters',
        'unknown_metric',
        'unknown_dimension',
        'invalid_group_id',
        'invalid_vectors',
        'unknown_event_type',
        'unknown_interval',
        'unknown_model',
        'unknown_scenario',
        'empty_import',
        'mixed_tenants',
        'duplicate_model',
        'model_not_in_build',
        'model_not_trainable',
        'bad_backend_url',
        'not_found',
        'scenario_exists',
        'item_exists',
        'experiment_exists',
        'model_version_exists',
        'version_conflict',
        'scenario_inactive',
        'experiment_running',
        'experiment_already_running',
        'experiment_not_running',
        'experiment_ended',
        'no_previous_version',
        'artifact_missing',
        'no_training_data',
        'cache_disabled',
        'item_not_in_catalog',
        'event_in_flight',
        'missing_token',
        'invalid_token',
        'token_expired',
        'tenant_mismatch',
        'read_only_token',
        'insufficient_scope',
        'user_mismatch',
        'unknown_tenant',
        'tenant_suspended',
        'tenant_status_unknown',
        'quota_exceeded',
        'rate_limited',
        'too_many_in_flight',
        'too_many_jobs',
        'unavailable',
        'overloaded',
        'timeout',
        'internal',
    ]
    item_id: NotRequired[str | None]
    line: int
    """
    1-based line number in the upload.
    """
    message: str


ModelKind: TypeAlias = Literal['recall', 'rank']


ModelStatus: TypeAlias = Literal['active', 'inactive']


class ModelView(TypedDict):
    activated_at: NotRequired[str | None]
    config: dict[str, Any]
    created_at: str
    job_id: str
    metrics: dict[str, float]
    """
    Offline metrics on held-out data.
    """
    model_name: str
    model_path: str
    """
    The artifact's key in the blob store.
    """
    model_type: ModelKind
    model_version: str
    scenario_id: str
    serving: bool
    """
    Whether this process serves it (the active version, or the one `rank.version` pins).
    """
    status: ModelStatus


class Point(TypedDict):
    t: str
    value: NotRequired[float | None]


class PrecomputeRequest(TypedDict):
    active_days: NotRequired[int | None]
    """
    Users with an interaction in the last this many days are answered (1–90, default 7).
    """


class ProfileFeatures(TypedDict):
    active_hours: list[int]
    """
    Events per hour of day (UTC), 24 entries.
    """
    favorite_categories: list[str]
    """
    The top categories by score, best first.
    """
    recent_items: list[str]
    """
    Items interacted with most recently, newest first (capped).
    """
    total_impressions: int
    total_watch_count: int
    """
    Count of positive (non-impression) events.
    """
    total_watch_value: float
    """
    Sum of `value` over play/view/read/learn events (e.g. watch seconds).
    """


class ProfilePreferences(TypedDict):
    category_scores: dict[str, float]
    """
    Interest per category: the sum of event interest weights, decayed over time.
    """
    tag_scores: dict[str, float]
    """
    Interest per tag, like category_scores.
    """


class RankConfig(TypedDict):
    model: Literal['weighted', 'interaction_ranker', 'lightgbm', 'deepfm', 'wide_deep']
    objective: NotRequired[Literal['click_rate', 'watch_time', 'conversion'] | None]
    params: NotRequired[dict[str, Any]]
    version: NotRequired[str | None]


class RealtimeMetrics(TypedDict):
    counters: dict[str, float]
    """
    Counters of the last hour: impressions, clicks, views, conversions, ... and per
    experiment group `exp:{experiment}:{group}:{counter}`.
    """
    ctr: NotRequired[float | None]
    """
    clicks / impressions, when there were impressions.
    """


class RecallStrategySpec(TypedDict):
    """
    One recall channel: `name` picks the strategy, `weight` scales its scores in the merge,
    `limit` caps how many candidates it returns.
    """

    limit: int
    name: Literal[
        'hot_items',
        'hot_news',
        'latest',
        'location',
        'item_cf',
        'user_cf',
        'content_based',
        'vector_search',
        'ease',
        'dlae',
        'sparse_ease',
    ]
    params: NotRequired[dict[str, Any]]
    timeout_ms: NotRequired[int | None]
    """
    Deadline for this channel; past it the channel is reported as failed.
    """
    weight: float


class RecommendRequest(TypedDict):
    context: NotRequired[dict[str, Any] | None]
    """
    Free request context, e.g. {"device_type": "mobile", "location": "paris"}.
    """
    count: NotRequired[int | None]
    """
    1 to 500, default 20.
    """
    exclude_item_ids: NotRequired[list[str] | None]
    """
    Items never to return in this answer.
    """
    explain: NotRequired[bool | None]
    """
    Adds where each item came from and its score after each stage.
    """
    scenario_id: str


class RecommendedItem(TypedDict):
    channels: NotRequired[list[dict[str, Any]] | None]
    """
    With `explain`: the recall channels that found the item, with their scaled scores.
    """
    item_id: str
    rank_score: NotRequired[float | None]
    recall_score: NotRequired[float | None]
    score: float
    stages: NotRequired[list[dict[str, Any]] | None]
    """
    With `explain`: the score after recall, rank and each rerank rule.
    """


class ReplaceExperiment(TypedDict):
    end_time: NotRequired[str | float | None]
    groups: list[ExperimentGroup]
    name: NotRequired[str | None]
    start_time: NotRequired[str | float | None]


class ReplayReport(TypedDict):
    replayed: int
    """
    Dead letters re-queued: each event is back on the bus for the one job that failed on
    it, and its dead letter is gone (it comes back if the job fails on it again).
    """


class RerankRuleSpec(TypedDict):
    name: Literal['diversity', 'mmr', 'freshness', 'location_match', 'business_rules']
    params: NotRequired[dict[str, Any]]
    weight: NotRequired[float]


class SampleRatio(TypedDict):
    expected: list[float]
    """
    Each group's share of users by its traffic ratio, normalised over the groups.
    """
    mismatch: bool
    """
    p < 0.001: the split is not what the ratios say — do not trust the lifts.
    """
    observed_users: list[int]
    p_value: NotRequired[float | None]
    """
    Pearson's χ² p-value; absent with fewer than two groups or no users.
    """


ScenarioStatus: TypeAlias = Literal['active', 'inactive']


Stored: TypeAlias = Literal['stored', 'duplicate']
"""
What became of an event the service took.
"""


StreamJob: TypeAlias = Literal[
    'warehouse_sink',
    'user_profile_aggregator',
    'item_hot_score',
    'recommendation_metrics',
]
"""
The stream jobs, as the API names them (`jobs::STREAM_JOBS`).
"""


class TopItem(TypedDict):
    events: int
    item_id: str


class TopItems(TypedDict):
    event_type: str
    items: list[TopItem]


class TrainRequest(TypedDict):
    models: NotRequired[
        list[
            Literal[
                'als',
                'ease',
                'dlae',
                'sparse_ease',
                'item_cf',
                'blend',
                'interaction_ranker',
                'lightgbm',
                'deepfm',
                'wide_deep',
            ]
        ]
    ]
    """
    The models to train (`als`, `ease`, `lightgbm`, `deepfm`, `wide_deep`); empty or absent:
    every model the scenario's config uses.
    """
    trigger: NotRequired[Literal['api', 'cli'] | None]
    """
    Who asked (`api` unless given, `cli` from `polyrec train`).
    """


class Trend(TypedDict):
    interval: str
    metric: str
    points: list[Point]


class UserProfile(TypedDict):
    applied_windows: NotRequired[dict[str, int]]
    """
    Per aggregation window (start, epoch ms): the highest event-bus offset folded in from it.
    A replay after a restart skips a window's events at or below its mark, so a fold is
    idempotent even when windows close out of offset order. Kept for a day of windows.
    """
    features: ProfileFeatures
    preferences: ProfilePreferences
    scenario_id: str
    updated_ms: int
    user_id: str
    window_end_ms: int
    """
    End (event time, epoch ms) of the last aggregation window folded into this profile.
    """


class Accepted(TypedDict):
    event_id: str
    status: Stored


class BulkReport(TypedDict):
    created: int
    errors: list[LineError]
    """
    The first rejections, with line number and reason.
    """
    errors_truncated: bool
    """
    True when there were more rejections than `errors` lists.
    """
    rejected: int
    updated: int


class CreateExperiment(TypedDict):
    end_time: NotRequired[str | float | None]
    experiment_id: str
    groups: list[ExperimentGroup]
    name: NotRequired[str | None]
    start_time: NotRequired[str | float | None]
    """
    RFC 3339 or epoch seconds / milliseconds.
    """


class ErrorBody(TypedDict):
    """
    The body of every error answer.
    """

    code: Literal[
        'missing_tenant',
        'missing_user_id',
        'invalid_header',
        'invalid_authorization',
        'malformed_json',
        'unreadable_body',
        'invalid_query',
        'body_read_failed',
        'body_too_large',
        'unsupported_media_type',
        'method_not_allowed',
        'invalid_tenant_id',
        'invalid_scenario_id',
        'invalid_item_id',
        'invalid_user_id',
        'invalid_body',
        'invalid_json',
        'invalid_config',
        'invalid_experiment',
        'invalid_item',
        'invalid_status',
        'invalid_event',
        'invalid_context',
        'invalid_ids',
        'invalid_count',
        'invalid_cursor',
        'invalid_limit',
        'invalid_n',
        'invalid_filter',
        'invalid_steps',
        'invalid_time',
        'invalid_timestamp',
        'invalid_time_range',
        'invalid_window',
        'invalid_trigger',
        'invalid_groups',
        'line_too_long',
        'invalid_experiment_id',
        'invalid_scenario_type',
        'scenario_id_mismatch',
        'invalid_event_type',
        'invalid_request_id',
        'invalid_event_id',
        'invalid_value',
        'invalid_job',
        'batch_too_large',
        'too_many_exclusions',
        'too_many_filters',
        'unknown_metric',
        'unknown_dimension',
        'invalid_group_id',
        'invalid_vectors',
        'unknown_event_type',
        'unknown_interval',
        'unknown_model',
        'unknown_scenario',
        'empty_import',
        'mixed_tenants',
        'duplicate_model',
        'model_not_in_build',
        'model_not_trainable',
        'bad_backend_url',
        'not_found',
        'scenario_exists',
        'item_exists',
        'experiment_exists',
        'model_version_exists',
        'version_conflict',
        'scenario_inactive',
        'experiment_running',
        'experiment_already_running',
        'experiment_not_running',
        'experiment_ended',
        'no_previous_version',
        'artifact_missing',
        'no_training_data',
        'cache_disabled',
        'item_not_in_catalog',
        'event_in_flight',
        'missing_token',
        'invalid_token',
        'token_expired',
        'tenant_mismatch',
        'read_only_token',
        'insufficient_scope',
        'user_mismatch',
        'unknown_tenant',
        'tenant_suspended',
        'tenant_status_unknown',
        'quota_exceeded',
        'rate_limited',
        'too_many_in_flight',
        'too_many_jobs',
        'unavailable',
        'overloaded',
        'timeout',
        'internal',
    ]
    """
    Stable, machine-readable: e.g. `missing_tenant`, `invalid_config`, `not_found`.
    """
    errors: NotRequired[list[FieldError] | None]
    """
    For validation errors: each problem with its JSON path.
    """
    message: str
    """
    What went wrong and what to do about it.
    """


class EventInput(TypedDict):
    """
    One behavior event as sent by a client.
    """

    context: NotRequired[dict[str, Any] | None]
    event_id: NotRequired[str | None]
    """
    Your id for this event, to make sending it idempotent: 1–128 letters, digits, `-`, `_`
    or `.` (a UUID or ULID fits), unique within the tenant. An event whose `event_id` was
    stored in the last 7 days (the bus's retention) is answered `duplicate` and stored,
    counted and folded once, however often it is sent or retried.
    """
    event_type: EventType
    """
    impression, click, view, play, read, learn, like, share, comment, add_cart, order, payment.
    """
    item_id: str
    request_id: NotRequired[str | None]
    """
    The `request_id` of the recommend answer this event follows.
    """
    scenario_id: str
    timestamp: NotRequired[str | float | None]
    """
    RFC 3339, or epoch seconds/milliseconds; the time of receipt when absent.
    """
    user_id: str
    value: NotRequired[float | None]
    """
    e.g. watch seconds for play, price for order; at most 10^12 in magnitude.
    """


class EventResult(TypedDict):
    """
    One taken event of a batch.
    """

    event_id: str
    index: int
    """
    Position of the event in `events`, from 0.
    """
    status: Stored


class ExperimentList(TypedDict):
    experiments: list[ExperimentView]


ExperimentResults = TypedDict(
    'ExperimentResults',
    {
        'comparisons': list[GroupComparison],
        'control': str,
        'experiment_id': str,
        'from': str,
        'groups': list[GroupResult],
        'sample_ratio': SampleRatio,
        'status': ExperimentStatus,
        'to': str,
    },
)


class FeatureSpec(TypedDict):
    name: str
    type: FeatureType
    weight: NotRequired[float]


class FeaturesConfig(TypedDict):
    item_features: NotRequired[list[FeatureSpec]]
    user_features: NotRequired[list[FeatureSpec]]


class Funnel(TypedDict):
    steps: list[FunnelStep]
    window_hours: float


class ItemInput(TypedDict):
    """
    An item as a client sends it (one create, one NDJSON line of a bulk import).
    """

    embedding: NotRequired[list[EmbeddingItem] | None]
    item_id: str
    metadata: NotRequired[dict[str, Any]]
    """
    Free fields; `category` (string), `tags` (strings), `location` (string) and
    `publish_time` (RFC 3339 or epoch) have a meaning to the engine.
    """
    status: NotRequired[ItemStatus | None]


class ItemPage(TypedDict):
    items: list[ItemView]
    next_cursor: NotRequired[str | None]
    """
    Pass as `cursor` for the next page; absent on the last page.
    """


class ItemPatch(TypedDict):
    """
    A partial update: `metadata` is merged (JSON merge patch: `null` removes a field).
    """

    embedding: NotRequired[list[EmbeddingItem] | None]
    """
    A vector replaces the embedding; `null` removes it.
    """
    metadata: NotRequired[dict[str, Any] | None]
    status: NotRequired[ItemStatus | None]


class JobRecord(TypedDict):
    """
    A training job: what it trains, how far it is, and what it produced.
    """

    attempts: NotRequired[int]
    """
    How many times a worker has claimed it (a claim whose worker died is retried, up to a
    limit).
    """
    created_ms: int
    data: NotRequired[dict[str, int]]
    """
    Counts of what it trained on (interactions, users, items, impressions).
    """
    error: NotRequired[str | None]
    error_code: NotRequired[str | None]
    """
    The stable code of `error` (`no_training_data`, `internal`, …).
    """
    finished_ms: NotRequired[int | None]
    heartbeat_ms: int
    """
    Refreshed while it runs; a running job whose heartbeat stopped lost its process.
    """
    job_id: str
    kind: str
    """
    `train`.
    """
    models: list[str]
    """
    The models asked for; empty means every model the scenario's config uses.
    """
    progress: float
    """
    0 to 1.
    """
    revision: NotRequired[int]
    """
    Bumped by every write: the job queue's compare-and-swap token, so a worker that lost its
    claim (its lease ran out and another took the job) can no longer write the record.
    """
    scenario_id: str
    stage: str
    """
    What it is doing now (`reading events`, `training als`, …).
    """
    started_ms: NotRequired[int | None]
    state: JobState
    trigger: str
    """
    `api`, `cli`, `schedule`.
    """
    tune: NotRequired[bool]
    """
    Whether its recall models search their hyperparameters on a validation split (`POST
    …/jobs/train`, `polyrec train`); otherwise each is fitted with its serving version's, or
    the defaults (the schedule's rounds, the synchronous `POST …/jobs/cf`).
    """
    versions: NotRequired[dict[str, str]]
    """
    The versions it registered, model name → version.
    """
    worker: NotRequired[str | None]
    """
    The process that holds it while it runs (its instance id).
    """


class ModelList(TypedDict):
    models: list[ModelView]


class PatchScenario(TypedDict):
    """
    A partial update: any of these fields; `config` is merged into the stored config (JSON merge
    patch, `null` removes) and the result is validated whole.
    """

    config: NotRequired[dict[str, Any] | None]
    name: NotRequired[str | None]
    scenario_type: NotRequired[str | None]
    status: NotRequired[ScenarioStatus | None]


class RecallConfig(TypedDict):
    strategies: list[RecallStrategySpec]


class RecommendResponse(TypedDict):
    cached: bool
    """
    Served from the scenario's result cache (`config.cache`).
    """
    candidates: NotRequired[int | None]
    """
    With `explain`: candidates after merge and fallback.
    """
    channels: NotRequired[list[dict[str, Any]] | None]
    """
    With `explain`: every channel's report.
    """
    config_version: int
    """
    The version of the scenario config that answered.
    """
    degraded_channels: list[dict[str, Any]]
    """
    Recall channels that failed or ran out of time; the answer comes from the others.
    """
    experiment_id: NotRequired[str | None]
    """
    The running experiment the user is assigned in, and their group (absent: none runs, or
    the user is in its holdout). Report `request_id` with the events of this answer.
    """
    fallback: bool
    """
    True when the cold-start fallback filled the answer.
    """
    group_id: NotRequired[str | None]
    items: list[RecommendedItem]
    request_id: str
    scenario_id: str
    took_ms: float
    user_id: str


class ReplayRequest(TypedDict):
    ids: NotRequired[list[str] | None]
    """
    Only these dead letters (ids from the list); the first `limit` otherwise.
    """
    job: NotRequired[StreamJob | None]
    limit: NotRequired[int | None]
    """
    At most this many, 1 to 1,000 (default 1,000).
    """


class RerankConfig(TypedDict):
    rules: NotRequired[list[RerankRuleSpec]]


class ScenarioConfig(TypedDict):
    """
    The four parts of SPEC §5, and the result cache.
    """

    cache: NotRequired[CacheConfig]
    features: NotRequired[FeaturesConfig]
    rank: RankConfig
    recall: RecallConfig
    rerank: NotRequired[RerankConfig]


class ScenarioView(TypedDict):
    config: ScenarioConfig
    created_at: str
    name: str
    scenario_id: str
    scenario_type: str
    status: ScenarioStatus
    updated_at: str
    version: int
    """
    Grows by one with every change.
    """


class BatchReport(TypedDict):
    accepted: int
    """
    Events stored now.
    """
    duplicates: int
    """
    Events whose client `event_id` was stored before (not stored again).
    """
    errors: list[EventError]
    """
    Every event not taken, with why: invalid (4xx codes: fix it) or not stored because the bus
    took part of the batch only (`unavailable`: send that event again).
    """
    event_ids: list[str]
    """
    The ids of the accepted events, in order.
    """
    rejected: int
    results: list[EventResult]
    """
    Every event taken (stored now or a duplicate), in order.
    """


class CreateScenario(TypedDict):
    config: ScenarioConfig
    """
    The config of SPEC §5: features, recall, rank, rerank.
    """
    name: NotRequired[str | None]
    scenario_id: str
    scenario_type: str
    """
    vlog, news, ecommerce, ... (free, lowercase letters, digits and '_').
    """
    status: NotRequired[ScenarioStatus | None]


class JobList(TypedDict):
    jobs: list[JobRecord]


class ReplaceScenario(TypedDict):
    """
    The whole scenario; a `scenario_id` in it, if sent, must be the path's.
    """

    config: ScenarioConfig
    name: NotRequired[str | None]
    scenario_type: str
    status: NotRequired[ScenarioStatus | None]


class ScenarioHistory(TypedDict):
    versions: list[ScenarioView]
    """
    Newest first.
    """


class ScenarioList(TypedDict):
    scenarios: list[ScenarioView]
