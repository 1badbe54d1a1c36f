//! The diesel schema (`table!`), hand-kept in step with migrations/sqlite and migrations/postgres.
//! Only types the derived MultiConnection backend supports are used (Text, BigInt), plus Binary
//! through the impls in `db::blob`.

diesel::table! {
    orders (id) {
        id -> Text,
        idempotency_key -> Text,
        request_fingerprint -> Text,
        status -> Text,
        version -> BigInt,
        product_id -> Text,
        catalog_version -> Text,
        selection -> Text,
        quote -> Text,
        preview_ref -> Nullable<Text>,
        customer_ref -> Nullable<Text>,
        metadata -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        design_id -> Nullable<Text>,
        filled -> Text,
        fulfilment -> Nullable<Text>,
    }
}

diesel::table! {
    order_events (order_id, version) {
        order_id -> Text,
        version -> BigInt,
        from_status -> Nullable<Text>,
        to_status -> Text,
        note -> Nullable<Text>,
        at -> BigInt,
    }
}

diesel::table! {
    catalog_blobs (sha256) {
        sha256 -> Text,
        size -> BigInt,
        bytes -> Binary,
    }
}

diesel::table! {
    catalog_versions (hash) {
        hash -> Text,
        file_count -> BigInt,
        total_bytes -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    catalog_version_files (version_hash, path) {
        version_hash -> Text,
        path -> Text,
        blob_sha256 -> Text,
    }
}

diesel::table! {
    engine_knowledge (fingerprint, seq) {
        fingerprint -> Text,
        seq -> BigInt,
        product_id -> Text,
        size -> BigInt,
        bytes -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    designs (id) {
        id -> Text,
        product_id -> Text,
        product_version -> Text,
        catalog_version -> Text,
        selection -> Text,
        quote -> Text,
        filled -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    product_versions (product_id, product_version, catalog_version) {
        product_id -> Text,
        product_version -> Text,
        catalog_version -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    history_counters (id) {
        id -> BigInt,
        last_sale_id -> BigInt,
        last_import_id -> BigInt,
        erasures -> BigInt,
    }
}

diesel::table! {
    history_imports (id) {
        id -> BigInt,
        product_id -> Text,
        content_sha256 -> Text,
        file_name -> Nullable<Text>,
        row_count -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    history_sales (id) {
        id -> BigInt,
        product_id -> Text,
        catalog_version -> Nullable<Text>,
        selection -> Text,
        count -> BigInt,
        customer_ref -> Nullable<Text>,
        source -> Text,
        order_id -> Nullable<Text>,
        import_id -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    blobs (kind, id) {
        kind -> Text,
        id -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        created_at -> BigInt,
        bytes -> Binary,
    }
}

diesel::table! {
    upload_refs (upload_id) {
        upload_id -> Text,
        kept_until -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    print_jobs (order_id) {
        order_id -> Text,
        state -> Text,
        attempts -> BigInt,
        lease_until -> Nullable<BigInt>,
        error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    print_files (order_id, area, format) {
        order_id -> Text,
        area -> Text,
        format -> Text,
        position -> BigInt,
        blob_id -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        width_px -> BigInt,
        height_px -> BigInt,
        width_um -> BigInt,
        height_um -> BigInt,
        bleed_um -> BigInt,
        dpi -> BigInt,
    }
}

diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(catalog_version_files -> catalog_versions (version_hash));
diesel::joinable!(catalog_version_files -> catalog_blobs (blob_sha256));
diesel::joinable!(history_sales -> history_imports (import_id));
diesel::allow_tables_to_appear_in_same_query!(
    orders,
    order_events,
    catalog_blobs,
    catalog_versions,
    catalog_version_files,
    engine_knowledge,
    designs,
    product_versions,
    history_counters,
    history_imports,
    history_sales,
    blobs,
    upload_refs,
    print_jobs,
    print_files
);

// Webhooks and their outbox (migration 000006).

diesel::table! {
    webhooks (id) {
        id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    outbox_events (seq) {
        seq -> BigInt,
        id -> Text,
        event_type -> Text,
        subject -> Text,
        payload -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        event_seq -> BigInt,
        webhook_id -> Text,
        subject -> Text,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        locked_until -> BigInt,
        locked_by -> Nullable<Text>,
        created_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, attempt) {
        delivery_id -> BigInt,
        attempt -> BigInt,
        at -> BigInt,
        duration_ms -> BigInt,
        status_code -> Nullable<BigInt>,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> outbox_events (event_seq));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(
    webhooks,
    outbox_events,
    webhook_deliveries,
    webhook_attempts
);
