/// Migration 1: the initial schema. docs/DATABASE.md documents every table, column and function
/// created here; names are a contract with the control plane and with operators' own SQL.
///
/// Runs with `search_path` set to exactly the target schema (the migrator does that), so the
/// functions' `SET search_path FROM CURRENT` pins them to it: they find `checks`, `metrics` and
/// `monitors` of their own schema whoever calls them. Times are `timestamptz`; day boundaries of
/// check partitions and rollups are UTC.
enum Migration0001Initial {
    static let sql = #"""
        -- Accounts. The API stores a bcrypt hash; engine-created owners (lookout-engine import,
        -- standalone runs) have none and cannot log in until a password is set.
        CREATE TABLE users (
            id            bigserial PRIMARY KEY,
            email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
            password_hash text,
            display_name  text,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now()
        );
        -- Case-insensitive uniqueness (citext-like without the extension).
        CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

        -- What to check. Scheduling fields are columns, the rest of a monitor definition is
        -- `settings` (the monitors-file keys, camelCase, every field explicit).
        CREATE TABLE monitors (
            id                     bigserial PRIMARY KEY,
            owner_id               bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            external_id            text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
            name                   text NOT NULL,
            url                    text NOT NULL,
            method                 text NOT NULL DEFAULT 'GET'
                                   CHECK (method IN ('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS')),
            interval_seconds       double precision NOT NULL DEFAULT 60 CHECK (interval_seconds BETWEEN 0.1 AND 86400),
            timeout_ms             integer NOT NULL DEFAULT 10000 CHECK (timeout_ms BETWEEN 100 AND 120000),
            connect_timeout_ms     integer NOT NULL DEFAULT 5000,
            settings               jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
            confirmation_threshold smallint NOT NULL DEFAULT 2 CHECK (confirmation_threshold BETWEEN 1 AND 100),
            recovery_threshold     smallint NOT NULL DEFAULT 1 CHECK (recovery_threshold BETWEEN 1 AND 100),
            shard                  smallint NOT NULL CHECK (shard BETWEEN 0 AND 1023),
            paused                 boolean NOT NULL DEFAULT false,
            created_at             timestamptz NOT NULL DEFAULT now(),
            updated_at             timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT monitors_owner_external_id_key UNIQUE (owner_id, external_id),
            CONSTRAINT monitors_connect_timeout_check CHECK (connect_timeout_ms BETWEEN 100 AND timeout_ms)
        );
        CREATE INDEX monitors_shard_idx ON monitors (shard);
        CREATE INDEX monitors_updated_at_idx ON monitors (updated_at);

        -- One row per check, written by the engines' COPY writers. Range-partitioned by day
        -- (UTC): checks_pYYYYMMDD. No foreign key to monitors: ingestion stays a plain append,
        -- and the rows of a deleted monitor leave with retention.
        CREATE TABLE checks (
            check_id        uuid NOT NULL,
            monitor_id      bigint NOT NULL,
            checked_at      timestamptz NOT NULL,
            status          text NOT NULL CHECK (status IN ('UP', 'DOWN', 'TIMEOUT', 'ERROR')),
            http_status     smallint NOT NULL DEFAULT 0,
            dns_ms          real NOT NULL DEFAULT 0,
            connect_ms      real NOT NULL DEFAULT 0,
            tls_ms          real NOT NULL DEFAULT 0,
            ttfb_ms         real NOT NULL DEFAULT 0,
            total_ms        real NOT NULL,
            lag_ms          real NOT NULL DEFAULT 0,
            redirects       smallint NOT NULL DEFAULT 0,
            error_code      text,
            error_message   text,
            cert_expires_at timestamptz,
            engine_id       text,
            CONSTRAINT checks_pkey PRIMARY KEY (checked_at, check_id)
        ) PARTITION BY RANGE (checked_at);
        CREATE INDEX checks_monitor_id_checked_at_idx ON checks (monitor_id, checked_at);

        -- Per-monitor rollups of checks (lookout_rollup_metrics). Latency figures are over the
        -- UP checks of the bucket (NULL when there was none); count and up_count over all.
        CREATE TABLE metrics (
            monitor_id     bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            bucket         text NOT NULL CHECK (bucket IN ('minute', 'hour', 'day')),
            bucket_start   timestamptz NOT NULL,
            count          integer NOT NULL,
            up_count       integer NOT NULL,
            latency_avg_ms real,
            latency_p50_ms real,
            latency_p95_ms real,
            latency_max_ms real,
            updated_at     timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT metrics_pkey PRIMARY KEY (monitor_id, bucket, bucket_start)
        );

        -- Confirmed outages: opened after confirmation_threshold failed checks, resolved after
        -- recovery_threshold good ones. At most one open incident per monitor.
        CREATE TABLE incidents (
            id                 bigserial PRIMARY KEY,
            monitor_id         bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            started_at         timestamptz NOT NULL,
            resolved_at        timestamptz,
            cause_status       text NOT NULL CHECK (cause_status IN ('DOWN', 'TIMEOUT', 'ERROR')),
            cause_code         text,
            cause_message      text,
            http_status        smallint,
            first_check_id     uuid,
            resolving_check_id uuid,
            acknowledged_at    timestamptz,
            acknowledged_by    bigint REFERENCES users (id) ON DELETE SET NULL,
            notes              text,
            created_at         timestamptz NOT NULL DEFAULT now(),
            updated_at         timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT incidents_resolved_after_start CHECK (resolved_at IS NULL OR resolved_at >= started_at)
        );
        CREATE UNIQUE INDEX incidents_one_open_per_monitor ON incidents (monitor_id) WHERE resolved_at IS NULL;
        CREATE INDEX incidents_monitor_id_started_at_idx ON incidents (monitor_id, started_at DESC);

        -- Public status pages and the monitors they show.
        CREATE TABLE status_pages (
            id          bigserial PRIMARY KEY,
            owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            slug        text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
            title       text NOT NULL,
            description text,
            published   boolean NOT NULL DEFAULT true,
            settings    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT status_pages_slug_key UNIQUE (slug)
        );
        CREATE INDEX status_pages_owner_id_idx ON status_pages (owner_id);

        CREATE TABLE status_page_monitors (
            status_page_id bigint NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
            monitor_id     bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            position       integer NOT NULL DEFAULT 0,
            display_name   text,
            CONSTRAINT status_page_monitors_pkey PRIMARY KEY (status_page_id, monitor_id)
        );
        CREATE INDEX status_page_monitors_monitor_id_idx ON status_page_monitors (monitor_id);

        -- Where alerts go. `config` holds what is not secret (address, chat id, URL);
        -- `secret_ciphertext` what is (SMTP password, bot token, webhook signing key), encrypted
        -- by the control plane with the key named by `secret_key_id`.
        CREATE TABLE notification_channels (
            id                bigserial PRIMARY KEY,
            owner_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            kind              text NOT NULL CHECK (kind IN ('email', 'telegram', 'webhook')),
            name              text NOT NULL,
            config            jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
            secret_ciphertext bytea,
            secret_key_id     text,
            enabled           boolean NOT NULL DEFAULT true,
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX notification_channels_owner_id_idx ON notification_channels (owner_id);

        CREATE TABLE monitor_notification_channels (
            monitor_id bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            channel_id bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
            CONSTRAINT monitor_notification_channels_pkey PRIMARY KEY (monitor_id, channel_id)
        );
        CREATE INDEX monitor_notification_channels_channel_id_idx ON monitor_notification_channels (channel_id);

        -- Durable outbox of notifications: written in the transaction that changes an incident,
        -- delivered by workers (SELECT ... FOR UPDATE SKIP LOCKED) with retries and back-off.
        CREATE TABLE notification_outbox (
            id              bigserial PRIMARY KEY,
            channel_id      bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
            monitor_id      bigint REFERENCES monitors (id) ON DELETE CASCADE,
            incident_id     bigint REFERENCES incidents (id) ON DELETE SET NULL,
            event_type      text NOT NULL CHECK (event_type IN ('monitor.down', 'monitor.up', 'channel.test')),
            idempotency_key text NOT NULL,
            payload         jsonb NOT NULL,
            state           text NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'delivering', 'delivered', 'failed')),
            attempts        integer NOT NULL DEFAULT 0,
            max_attempts    integer NOT NULL DEFAULT 10,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            locked_by       text,
            locked_until    timestamptz,
            last_error      text,
            created_at      timestamptz NOT NULL DEFAULT now(),
            delivered_at    timestamptz,
            CONSTRAINT notification_outbox_idempotency_key UNIQUE (idempotency_key)
        );
        CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at)
            WHERE state IN ('pending', 'delivering');

        -- Creates the daily partitions checks_pYYYYMMDD for p_days days from p_from (UTC days)
        -- that do not exist yet; returns how many it created. Safe to call concurrently.
        CREATE FUNCTION lookout_create_check_partitions(p_from date, p_days integer)
        RETURNS integer
        LANGUAGE plpgsql
        SET search_path FROM CURRENT
        AS $fn$
        DECLARE
            v_day     date;
            v_name    text;
            v_created integer := 0;
        BEGIN
            IF p_days IS NULL OR p_days < 1 OR p_days > 3660 THEN
                RAISE EXCEPTION 'p_days must be 1 ... 3660, not %', p_days USING ERRCODE = '22023';
            END IF;
            PERFORM pg_advisory_xact_lock(hashtextextended('lookout.check_partitions.' || current_schema(), 0));
            FOR i IN 0 .. p_days - 1 LOOP
                v_day := p_from + i;
                v_name := 'checks_p' || to_char(v_day, 'YYYYMMDD');
                IF to_regclass(format('%I.%I', current_schema(), v_name)) IS NULL THEN
                    EXECUTE format(
                        'CREATE TABLE %I.%I PARTITION OF %I.checks FOR VALUES FROM (%L) TO (%L)',
                        current_schema(), v_name, current_schema(),
                        to_char(v_day, 'YYYY-MM-DD') || ' 00:00:00+00',
                        to_char(v_day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
                    v_created := v_created + 1;
                END IF;
            END LOOP;
            RETURN v_created;
        END
        $fn$;

        -- Yesterday, today and p_days_ahead days ahead (UTC). Engines call it at start-up and
        -- hourly; returns how many partitions it created.
        CREATE FUNCTION lookout_ensure_check_partitions(p_days_ahead integer DEFAULT 7)
        RETURNS integer
        LANGUAGE sql
        SET search_path FROM CURRENT
        AS $fn$
            SELECT lookout_create_check_partitions((now() AT TIME ZONE 'UTC')::date - 1, p_days_ahead + 2);
        $fn$;

        -- Computes the rollups of bucket p_bucket ('minute', 'hour' or 'day') for every bucket
        -- that overlaps [p_from, p_to), from the raw checks, and upserts them into metrics.
        -- Whole buckets are always recomputed, so calling it again is harmless. Returns the
        -- number of metrics rows written.
        CREATE FUNCTION lookout_rollup_metrics(p_bucket text, p_from timestamptz, p_to timestamptz)
        RETURNS integer
        LANGUAGE plpgsql
        SET search_path FROM CURRENT
        AS $fn$
        DECLARE
            v_step interval;
            v_from timestamptz;
            v_to   timestamptz;
            v_rows integer;
        BEGIN
            v_step := CASE p_bucket
                WHEN 'minute' THEN interval '1 minute'
                WHEN 'hour' THEN interval '1 hour'
                WHEN 'day' THEN interval '24 hours'
            END;
            IF v_step IS NULL THEN
                RAISE EXCEPTION 'bucket must be minute, hour or day, not %', p_bucket USING ERRCODE = '22023';
            END IF;
            v_from := date_trunc(p_bucket, p_from, 'UTC');
            v_to := date_trunc(p_bucket, p_to, 'UTC');
            IF v_to < p_to THEN
                v_to := v_to + v_step;
            END IF;
            INSERT INTO metrics AS m (
                monitor_id, bucket, bucket_start, count, up_count,
                latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_max_ms, updated_at)
            SELECT c.monitor_id, p_bucket, date_trunc(p_bucket, c.checked_at, 'UTC'),
                   count(*), count(*) FILTER (WHERE c.status = 'UP'),
                   avg(c.total_ms) FILTER (WHERE c.status = 'UP'),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY c.total_ms) FILTER (WHERE c.status = 'UP'),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY c.total_ms) FILTER (WHERE c.status = 'UP'),
                   max(c.total_ms) FILTER (WHERE c.status = 'UP'),
                   now()
            FROM checks c
            WHERE c.checked_at >= v_from AND c.checked_at < v_to
              AND EXISTS (SELECT 1 FROM monitors WHERE monitors.id = c.monitor_id)
            GROUP BY c.monitor_id, date_trunc(p_bucket, c.checked_at, 'UTC')
            ON CONFLICT (monitor_id, bucket, bucket_start) DO UPDATE SET
                count = EXCLUDED.count,
                up_count = EXCLUDED.up_count,
                latency_avg_ms = EXCLUDED.latency_avg_ms,
                latency_p50_ms = EXCLUDED.latency_p50_ms,
                latency_p95_ms = EXCLUDED.latency_p95_ms,
                latency_max_ms = EXCLUDED.latency_max_ms,
                updated_at = EXCLUDED.updated_at;
            GET DIAGNOSTICS v_rows = ROW_COUNT;
            RETURN v_rows;
        END
        $fn$;

        -- Retention: drops the check partitions of UTC days older than p_keep_days days before
        -- today (today and the p_keep_days previous days stay). The hour and day rollups of a
        -- partition are (re)computed just before it goes, so rollups outlive the raw checks.
        -- Returns how many partitions it dropped. Safe to call concurrently.
        CREATE FUNCTION lookout_drop_old_check_partitions(p_keep_days integer)
        RETURNS integer
        LANGUAGE plpgsql
        SET search_path FROM CURRENT
        AS $fn$
        DECLARE
            v_cutoff  date;
            v_day     date;
            v_start   timestamptz;
            v_part    record;
            v_dropped integer := 0;
        BEGIN
            IF p_keep_days IS NULL OR p_keep_days < 1 THEN
                RAISE EXCEPTION 'keep at least 1 day of checks, not %', p_keep_days USING ERRCODE = '22023';
            END IF;
            v_cutoff := (now() AT TIME ZONE 'UTC')::date - p_keep_days;
            PERFORM pg_advisory_xact_lock(hashtextextended('lookout.check_partitions.' || current_schema(), 0));
            FOR v_part IN
                SELECT child.relname::text AS relname
                FROM pg_inherits i
                JOIN pg_class parent ON parent.oid = i.inhparent
                JOIN pg_class child ON child.oid = i.inhrelid
                JOIN pg_namespace n ON n.oid = parent.relnamespace
                WHERE parent.relname = 'checks' AND n.nspname = current_schema()
                  AND child.relname ~ '^checks_p[0-9]{8}$'
                ORDER BY child.relname
            LOOP
                v_day := to_date(substr(v_part.relname, 9), 'YYYYMMDD');
                IF v_day < v_cutoff THEN
                    v_start := (to_char(v_day, 'YYYY-MM-DD') || ' 00:00:00+00')::timestamptz;
                    PERFORM lookout_rollup_metrics('hour', v_start, v_start + interval '24 hours');
                    PERFORM lookout_rollup_metrics('day', v_start, v_start + interval '24 hours');
                    EXECUTE format('DROP TABLE %I.%I', current_schema(), v_part.relname);
                    v_dropped := v_dropped + 1;
                END IF;
            END LOOP;
            RETURN v_dropped;
        END
        $fn$;

        SELECT lookout_ensure_check_partitions();
        """#
}
