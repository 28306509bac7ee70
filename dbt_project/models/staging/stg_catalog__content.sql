-- One row per catalog item; renames and casts only.
select
    content_id,
    title,
    content_type,
    genre,
    released_at,
    price_usd_cents,
    popularity as popularity_weight
from {{ source('catalog', 'content') }}
