-- Revenue per UTC day, content type, region and currency, in minor units (never converted or mixed).
select
    day,
    content_type,
    region,
    currency,
    sum(purchases)::bigint as purchases,
    sum(revenue_minor)::bigint as revenue_minor,
    count(distinct content_id)::bigint as items_purchased
from {{ ref('content_daily') }}
where purchases > 0
group by day, content_type, region, currency
