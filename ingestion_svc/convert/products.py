"""Product records (``ingestion_svc.product_batch``) ↔ CausalMarketingData with its
ProductDimension; stored product records → what a stream's dedupe needs of them."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import pandas as pd
from google.protobuf import timestamp_pb2
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from ingestion_svc.raw_batch import RawBatch

__all__ = ["PRODUCT_SOURCE_ENUM", "product_write_request", "stored_units"]

PRODUCT_SOURCE_ENUM = {
    "shopify_orders": common_pb.DATA_SOURCE_SHOPIFY_ORDERS,
    "shopify_products": common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS,
    "google_ads_shopping": common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
    "meta_products": common_pb.DATA_SOURCE_META_PRODUCTS,
}


def _stamp(value: object) -> timestamp_pb2.Timestamp:
    us = int(pd.Timestamp(value).value) // 1000  # type: ignore[arg-type]
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def product_write_request(batch: RawBatch, records: pd.DataFrame, now: dt.datetime) -> bytes:
    """The records as one serialised WriteStreamRequest."""
    source = PRODUCT_SOURCE_ENUM[batch.source]
    pulled = timestamp_pb2.Timestamp()
    pulled.FromDatetime(batch.pulled_at.astimezone(dt.UTC).replace(tzinfo=None))
    ingested = timestamp_pb2.Timestamp()
    ingested.FromDatetime(now.astimezone(dt.UTC).replace(tzinfo=None))
    out = []
    for r in records.itertuples(index=False):
        day = pd.Timestamp(r.local_date)
        product = md_pb.ProductDimension(
            product_id=r.product_id,
            variant_id=r.variant_id,
            sku=r.sku,
            category=r.category,
            item_id=r.item_id,
            order_id=r.order_id,
            line_item_id=r.line_item_id,
            quantity=int(r.quantity),
            list_price=float(r.list_price),
            discount_amount=float(r.discount_amount),
            refunded_quantity=int(r.refunded_quantity),
            refund_amount=float(r.refund_amount),
            title=r.title,
        )
        if not math.isnan(r.unit_cost):
            product.unit_cost = float(r.unit_cost)
        record = md_pb.CausalMarketingData(
            id=r.id,
            org_id=batch.org_id,
            timestamp=_stamp(r.timestamp),
            data_source=source,
            campaign_id=r.campaign_id,
            campaign_name=r.campaign_name,
            spend=float(r.spend),
            impressions=int(r.impressions),
            clicks=int(r.clicks),
            conversions=float(r.conversions),
            revenue=float(r.revenue),
            account_id=r.account_id,
            geo=r.geo,
            currency_code=r.currency,
            natural_key=r.natural_key,
            version=int(r.version),
            local_date=common_pb.Date(year=day.year, month=day.month, day=day.day),
            channel=r.channel,
            product=product,
        )
        meta = record.causal_metadata
        meta.ingested_at.CopyFrom(ingested)
        meta.pulled_at.CopyFrom(pulled)
        meta.batch_id = batch.batch_id
        meta.account_timezone = r.timezone
        meta.raw_row_sha256 = r.sha
        if r.is_restatement:
            meta.is_restatement = True
            meta.replaced_version = int(r.replaced_version)
        out.append(record)
    return memory_pb.WriteStreamRequest(org_id=batch.org_id, records=out).SerializeToString()


def stored_units(records: Sequence[md_pb.CausalMarketingData]) -> list[tuple[str, int, str]]:
    """(natural key, version, raw sha) of stored records (the unit is in the natural key,
    which names the account)."""
    return [(r.natural_key, r.version, r.causal_metadata.raw_row_sha256) for r in records]
