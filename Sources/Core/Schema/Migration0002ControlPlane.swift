/// Migration 2: what the control plane adds to the initial schema — API keys, the confirmed
/// state of each monitor and the log of applied state changes (idempotency, flapping, history),
/// maintenance windows, generated settings shared by every instance, the rollup bookkeeping, and
/// the notification outbox's extra event types. docs/DATABASE.md documents every name.
enum Migration0002ControlPlane {
    static let sql = #"""
        -- API keys. The secret is shown once at creation; only its SHA-256 is kept (the secret
        -- has 256 random bits, so a slow hash adds nothing but latency to every request).
        CREATE TABLE api_keys (
            id           bigserial PRIMARY KEY,
            owner_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
            prefix       text NOT NULL,
            secret_hash  bytea NOT NULL,
            scopes       text[] NOT NULL
                         CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY['read', 'write']::text[]),
            created_at   timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            expires_at   timestamptz,
            revoked_at   timestamptz,
            CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash)
        );
        CREATE INDEX api_keys_owner_id_idx ON api_keys (owner_id);

        -- The confirmed state of each monitor, as the control plane's state-stream consumer
        -- applied it (no row = UNKNOWN). Engines taking over a shard may read it as a seed.
        CREATE TABLE monitor_states (
            monitor_id     bigint PRIMARY KEY REFERENCES monitors (id) ON DELETE CASCADE,
            state          text NOT NULL CHECK (state IN ('UNKNOWN', 'UP', 'DOWN')),
            changed_at     timestamptz NOT NULL,
            check_id       text,
            flapping       boolean NOT NULL DEFAULT false,
            flapping_since timestamptz,
            updated_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX monitor_states_state_idx ON monitor_states (state);
        CREATE INDEX monitor_states_flapping_idx ON monitor_states (monitor_id) WHERE flapping;

        -- Every state-change event the consumer took in, exactly once per (monitor, confirming
        -- check): the unique key makes redelivered stream entries no-ops. `effective` is false
        -- for events that changed nothing (a re-confirmation after a shard hand-over, a stale
        -- event); `suppressed_by` says why an effective change sent no notification.
        CREATE TABLE monitor_state_changes (
            id            bigserial PRIMARY KEY,
            monitor_id    bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            from_state    text NOT NULL CHECK (from_state IN ('UNKNOWN', 'UP', 'DOWN')),
            to_state      text NOT NULL CHECK (to_state IN ('UP', 'DOWN')),
            changed_at    timestamptz NOT NULL,
            check_id      text NOT NULL,
            engine_id     text,
            reason        text,
            message       text,
            effective     boolean NOT NULL,
            incident_id   bigint REFERENCES incidents (id) ON DELETE SET NULL,
            suppressed_by text CHECK (suppressed_by IN ('maintenance', 'flapping', 'no_channel')),
            created_at    timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT monitor_state_changes_event_key UNIQUE (monitor_id, check_id)
        );
        CREATE INDEX monitor_state_changes_monitor_id_changed_at_idx
            ON monitor_state_changes (monitor_id, changed_at DESC) WHERE effective;

        -- Maintenance windows: state changes inside one are recorded, not notified. A weekly
        -- window repeats every 7 days from starts_at (and lasts at most a week).
        CREATE TABLE maintenance_windows (
            id         bigserial PRIMARY KEY,
            owner_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            name       text NOT NULL DEFAULT '',
            starts_at  timestamptz NOT NULL,
            ends_at    timestamptz NOT NULL,
            repeat     text NOT NULL DEFAULT 'none' CHECK (repeat IN ('none', 'weekly')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT maintenance_windows_order CHECK (ends_at > starts_at),
            CONSTRAINT maintenance_windows_weekly_length
                CHECK (repeat <> 'weekly' OR ends_at - starts_at <= interval '7 days')
        );
        CREATE INDEX maintenance_windows_owner_id_idx ON maintenance_windows (owner_id);

        CREATE TABLE maintenance_window_monitors (
            window_id  bigint NOT NULL REFERENCES maintenance_windows (id) ON DELETE CASCADE,
            monitor_id bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            CONSTRAINT maintenance_window_monitors_pkey PRIMARY KEY (window_id, monitor_id)
        );
        CREATE INDEX maintenance_window_monitors_monitor_id_idx ON maintenance_window_monitors (monitor_id);

        -- Values the control plane generates once and every instance shares: the JWT signing
        -- secret and the channel-secret key when none was configured.
        CREATE TABLE control_settings (
            name       text PRIMARY KEY,
            value      bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        -- How far each rollup bucket has been computed (the rollup scheduler's bookkeeping).
        CREATE TABLE rollup_progress (
            bucket     text PRIMARY KEY CHECK (bucket IN ('minute', 'hour', 'day')),
            done_until timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        -- A channel whose deliveries fail permanently is marked, so its owner sees why.
        ALTER TABLE notification_channels
            ADD COLUMN failing_since timestamptz,
            ADD COLUMN last_error text,
            ADD COLUMN last_delivered_at timestamptz;

        -- Flapping has its own messages ("flapping", then "stable again").
        ALTER TABLE notification_outbox DROP CONSTRAINT notification_outbox_event_type_check;
        ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_event_type_check
            CHECK (event_type IN ('monitor.down', 'monitor.up', 'monitor.flapping', 'monitor.stable', 'channel.test'));
        ALTER TABLE notification_outbox ADD COLUMN last_status integer;
        CREATE INDEX notification_outbox_channel_id_idx ON notification_outbox (channel_id);

        -- Listing an owner's monitors page by page (id order) and searching them.
        CREATE INDEX monitors_owner_id_id_idx ON monitors (owner_id, id);
        """#
}
