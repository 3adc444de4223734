"""The dashboard: revenue by source a creator reads in one glance, server-rendered from the Reports service.

Pages extend the shared base template (blocks `title` and `content`). Everything works without JavaScript:
sorting, ranges, models and groupings are links; the one script (static/dashboard/live.js, CSP-safe, no
inline code) only refreshes the recent purchases list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import SelectField

from adapters.web.charts import daily_revenue_svg
from adapters.web.display import CURRENCIES, NO_VALUE, Display, locale_choices, time_zone_choices
from adapters.web.usage import count_use
from core.domain.attribution import Model
from core.domain.connections import ConnectionStatus
from core.domain.display import DisplaySettings, InvalidDisplaySettings
from core.domain.feature_usage import Feature
from core.domain.reports import (
    Breakdown,
    CustomRange,
    Grouping,
    Period,
    PurchaseSearch,
    ReportRange,
    SortColumn,
    SortOrder,
    SourceLine,
    parse_day,
    parse_period,
    share,
    top_line,
)
from core.domain.sites import Site, tracking_snippet
from core.ports.platforms import PlatformCatalog
from core.services.accounts import Accounts
from core.services.connections import Connections, ConnectionView
from core.services.onboarding import Onboarding, OnboardingState
from core.services.reports import Reports, UnknownSource
from core.services.subscriptions import BillingOverview, Subscriptions

blueprint = Blueprint("dashboard", __name__)

RANGE_LABELS = {"7d": "7 days", "30d": "30 days", "90d": "90 days", "all": "All time"}
MODEL_LABELS = {"first_touch": "First touch", "last_touch": "Last touch"}
GROUP_LABELS = {"source": "Source", "channel": "Channel", "campaign": "Campaign"}
GROUP_FEATURES = {
    Grouping.SOURCE: Feature.DASHBOARD,
    Grouping.CHANNEL: Feature.DASHBOARD_BY_CHANNEL,
    Grouping.CAMPAIGN: Feature.DASHBOARD_BY_CAMPAIGN,
}
# A drill-down table: its CSV name, its first column, its heading and its caption ({} is the source).
BREAKDOWN_LABELS = {
    Breakdown.MEDIUM: ("mediums", "Medium", "Mediums", "Mediums of {}"),
    Breakdown.CAMPAIGN: ("campaigns", "Campaign", "Campaigns", "Campaigns of {}"),
    Breakdown.LANDING_PAGE: ("landing_pages", "Landing page", "Landing pages", "Landing pages of {}"),
    Breakdown.TAGGED: ("tagged_as", "utm_source", "Tagged as", "utm_source values named {}"),
}
# What each column means, shown on hover (title) and to screen readers; the full text is docs/metrics.md.
COLUMN_HELP = {
    "visitors": "First touch: visitors whose first visit came from here in the range. Last touch: visitors who "
    "came from here at least once in the range.",
    "revenue": "Credited purchases in the range, net of refunds.",
    "students": "Distinct buyers (by email).",
    "conversion_rate": "Students divided by visitors.",
    "avg_order_value": "Revenue divided by purchases.",
    "revenue_per_visitor": "Revenue divided by visitors.",
}
COLUMNS = [
    ("source", "Source"),
    ("visitors", "Visitors"),
    ("revenue", "Revenue"),
    ("students", "Students"),
    ("conversion_rate", "Conversion %"),
    ("avg_order_value", "Avg Order Value"),
    ("revenue_per_visitor", "Revenue/Visitor"),
]


def _choice(name: str, enum: Any, default: Any) -> Any:
    try:
        return enum(request.args.get(name, default.value))
    except ValueError:
        return default


def _period() -> Period:
    """The range asked for: a preset, or a custom from-to; anything unreadable is the last 30 days."""
    try:
        return parse_period(request.args.get("range", "30d"), request.args.get("from"), request.args.get("to"))
    except ValueError:
        return ReportRange.LAST_30_DAYS


def _range_args(period: Period) -> dict[str, str]:
    """The query arguments that ask for this range again (the drill-down and the CSV keep it)."""
    if isinstance(period, CustomRange):
        return {"range": period.value, "from": period.first.isoformat(), "to": period.last.isoformat()}
    return {"range": period.value}


def _sort() -> SortOrder:
    try:
        return SortOrder.parse(request.args.get("sort", "-revenue"))
    except ValueError:
        return SortOrder()


# How a purchase found its buyer, in words (the rules and their confidence: docs/attribution.md).
MATCH_METHODS = {
    "visitor_id": "by our visitor id, carried through checkout",
    "email": "by the email the buyer gave on a visit",
    "recipient_email": "by the student's (or gift recipient's) email seen on a visit",
    "fingerprint": "by timing: the one browser that reached checkout just before the sale",
}


def _link(endpoint: str, **changes: Any) -> str:
    """The current page's URL with some query parameters changed: switches and sort links keep the rest."""
    args = {**request.view_args, **request.args.to_dict(), **changes}  # type: ignore[dict-item]
    return url_for(endpoint, **{k: v for k, v in args.items() if v is not None})


def _sort_links(endpoint: str, order: SortOrder) -> dict[str, dict[str, str]]:
    """For each column: the link that sorts by it (descending first for numbers, flipping when active)."""
    links = {}
    for column in SortColumn:
        active = order.column is column
        descending = not order.descending if active else column not in (SortColumn.SOURCE, SortColumn.CHANNEL)
        aria = ("descending" if order.descending else "ascending") if active else "none"
        links[column.value] = {
            "href": _link(endpoint, sort=("-" if descending else "") + column.value),
            "aria": aria,
        }
    return links


@inject
def _display(account_id: int, accounts: Accounts = Provide["services.accounts"]) -> Display:
    return Display(accounts.display_settings(account_id))


@inject
def _platform_names(platforms: PlatformCatalog = Provide["platforms.registry"]) -> dict[str, str]:
    return {adapter.name: adapter.display_name for adapter in platforms.all()}


def _helpers(display: Display) -> dict[str, Any]:
    names = _platform_names()
    return {
        "platform_name": lambda name: names.get(name, name.replace("_", " ").title()),
        "money": display.money,
        "percent": display.percent,
        "when": display.when,
        "day": display.long_day,
        "time_zone": display.settings.time_zone,
        "link": _link,
        "range_labels": RANGE_LABELS,
        "model_labels": MODEL_LABELS,
        "group_labels": GROUP_LABELS,
        "column_help": COLUMN_HELP,
        "columns": COLUMNS,
        "match_methods": MATCH_METHODS,
        "NO_VALUE": NO_VALUE,
    }


@inject
def _billing(account_id: int, subscriptions: Subscriptions = Provide["services.subscriptions"]) -> BillingOverview:
    return subscriptions.overview(account_id)


def reports_access(view: Callable[..., Any]) -> Callable[..., Any]:
    """After login_required: an expired trial or an ended subscription gets a page (402) saying what to do.

    The same rule as the JSON API's 402: tracking goes on and nothing is deleted, only the reports wait.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        billing = _billing(int(current_user.id))
        if not billing.can_view_reports:
            return render_template("dashboard/trial_ended.html", billing=billing), 402
        return view(*args, **kwargs)

    return wrapper


@dataclass(frozen=True, slots=True)
class SplitRow:
    name: str
    revenue: int
    share: float | None  # of the range's revenue
    kind: str  # source, other or unmatched


SPLIT_SOURCES = 5


def source_split(lines: list[SourceLine], unmatched: int, total: int) -> list[SplitRow]:
    """Where the range's revenue came from: the top sources by name, the rest together, then the unmatched."""
    earning = sorted((line for line in lines if line.totals.revenue > 0), key=lambda line: -line.totals.revenue)
    rows = [SplitRow(line.label, line.totals.revenue, share(line.totals.revenue, total), "source") for line in earning]
    rows = rows[:SPLIT_SOURCES]
    rest = sum(line.totals.revenue for line in earning[SPLIT_SOURCES:])
    if rest > 0:
        count = len(earning) - SPLIT_SOURCES
        rows.append(SplitRow(f"{count} other source{'s' if count != 1 else ''}", rest, share(rest, total), "other"))
    if unmatched > 0:
        rows.append(SplitRow("Unmatched", unmatched, share(unmatched, total), "unmatched"))
    return rows


@dataclass(frozen=True, slots=True)
class SetupProblems:
    """What stands between the creator and a report worth reading, each shown with its fix."""

    failing: list[ConnectionView]  # syncs that failed: the reason, and the connection to fix it on
    no_platform: bool  # no platform connected and no purchase imported
    site: Site | None  # the site whose snippet has sent nothing yet (None: no snippet made, or it works)
    no_snippet: bool
    snippet: str | None


@inject
def _setup_problems(
    account_id: int,
    state: OnboardingState,
    has_purchases: bool,
    connections: Connections = Provide["services.connections"],
    onboarding: Onboarding = Provide["services.onboarding"],
) -> SetupProblems:
    views = connections.list(account_id)
    failing = [c for c in views if c.status is ConnectionStatus.NEEDS_ATTENTION]
    connected = any(c.status is not ConnectionStatus.DISCONNECTED for c in views)
    no_platform = not connected and not has_purchases
    site = state.site
    silent = None
    if site is not None and site.id is not None and not onboarding.first_visit_seen(account_id, site.id):
        silent = site
    snippet = tracking_snippet(current_app.config["BASE_URL"], silent) if silent is not None else None
    return SetupProblems(failing, no_platform, silent, site is None, snippet)


@blueprint.get("/dashboard")
@login_required
@reports_access
@inject
def index(
    reports: Reports = Provide["services.reports"], onboarding: Onboarding = Provide["services.onboarding"]
) -> str:
    account_id = int(current_user.id)
    display = _display(account_id)
    setup = onboarding.state(account_id)
    report_range = _period()
    model = _choice("model", Model, Model.FIRST_TOUCH)
    group = _choice("group", Grouping, Grouping.SOURCE)
    count_use(account_id, GROUP_FEATURES[group])
    order = _sort()
    currency = display.settings.currency
    with reports.reading():
        sources = reports.sources(account_id, report_range, model, currency, group=group, sort=order)
        summary = reports.summary(account_id, report_range, sources.currency)
        by_source = (
            sources if group is Grouping.SOURCE else reports.sources(account_id, report_range, model, sources.currency)
        )
        recent = reports.recent_purchases(account_id, 10)  # in every currency: any purchase at all shows here
    top = top_line(by_source.lines)
    chart = Markup(daily_revenue_svg(summary.summary.daily, summary.currency, display))  # noqa: S704 - our own escaped SVG  # nosec B704
    return render_template(
        "dashboard/overview.html",
        report=sources,
        summary=summary.summary,
        top=top,
        top_share=share(top.totals.revenue, summary.summary.revenue) if top else None,
        split=source_split(by_source.lines, sources.unmatched.revenue, summary.summary.revenue),
        period_before=f"previous {report_range.days} days" if report_range.days else "previous period",
        chart=chart,
        recent=recent,
        sort_links=_sort_links("dashboard.index", order),
        setup=setup,
        problems=_setup_problems(account_id, setup, has_purchases=bool(recent)),
        range_args=_range_args(report_range),
        custom=report_range if isinstance(report_range, CustomRange) else None,
        csv_url=url_for(
            "api.sources_csv",
            **_range_args(report_range),
            model=model.value,
            group=group.value,
            sort=str(order),
            currency=currency,
        ),
        **_helpers(display),
    )


@blueprint.get("/dashboard/sources/<path:source>")
@login_required
@reports_access
@inject
def source(source: str, reports: Reports = Provide["services.reports"]) -> str:
    report_range = _period()
    model = _choice("model", Model, Model.FIRST_TOUCH)
    order = _sort()
    try:
        display = _display(int(current_user.id))
        detail = reports.source_detail(
            int(current_user.id), source, report_range, model, display.settings.currency, sort=order
        )
    except UnknownSource:
        abort(404, description=f"No visitor or purchase came from {source!r}.")
    count_use(int(current_user.id), Feature.SOURCE_DRILL_DOWN)
    tables = [
        (heading, column, table, caption.format(detail.source), lines)
        for breakdown, lines in detail.tables.items()
        for table, column, heading, caption in [BREAKDOWN_LABELS[breakdown]]
    ]
    return render_template(
        "dashboard/source.html",
        detail=detail,
        range_args=_range_args(report_range),
        custom=report_range if isinstance(report_range, CustomRange) else None,
        tables=tables,
        sort_links=_sort_links("dashboard.source", order),
        **_helpers(display),
    )


def _day_arg(name: str) -> date | None:
    try:
        return parse_day(request.args.get(name, ""))
    except ValueError:
        return None


def _local_midnight(day: date, display: Display) -> datetime:
    return datetime.combine(day, time(), tzinfo=display.settings.zone).astimezone(UTC)


@blueprint.get("/purchases")
@login_required
@reports_access
@inject
def purchases(reports: Reports = Provide["services.reports"]) -> str:
    """Every purchase, newest first, searchable by email, source, platform and the days it was made (in the
    account's time zone); each opens its journey."""
    account_id = int(current_user.id)
    display = _display(account_id)
    first, last = _day_arg("from"), _day_arg("to")
    if first and last and first > last:
        first, last = last, first
    search = PurchaseSearch(
        email=request.args.get("email", "").strip()[:254],
        source=request.args.get("source", "").strip()[:200],
        platform=request.args.get("platform", "").strip()[:40],
        since=_local_midnight(first, display) if first else None,
        until=_local_midnight(last + timedelta(days=1), display) if last else None,
    )
    count_use(account_id, Feature.PURCHASES_LIST)
    page_number = request.args.get("page", "1")
    found = reports.find_purchases(account_id, search, int(page_number) if page_number.isdigit() else 1)
    return render_template(
        "dashboard/purchases.html",
        found=found,
        first=first,
        last=last,
        pages={
            "previous": _link("dashboard.purchases", page=found.page - 1) if found.page > 1 else None,
            "next": _link("dashboard.purchases", page=found.page + 1) if found.page < found.pages else None,
        },
        **_helpers(display),
    )


# --- how pages write money and times: a section of the account page ----------------------------------------


class DisplaySettingsForm(FlaskForm):  # type: ignore[misc]
    locale = SelectField("Language and number format", description="How amounts and dates are written.")
    time_zone = SelectField("Time zone", description="Purchase and visit times are shown in it.")
    currency = SelectField(
        "Report currency",
        description="Amounts in different currencies are never added up; the reports show one currency at a time.",
    )

    def fill_choices(self) -> DisplaySettingsForm:
        self.locale.choices = locale_choices()
        self.time_zone.choices = [(zone, zone.replace("_", " ")) for zone in ["UTC", *time_zone_choices()]]
        self.currency.choices = [("", "Automatic: the one most purchases are in"), *[(c, c) for c in CURRENCIES]]
        return self


@blueprint.app_context_processor
def _display_settings_section() -> dict[str, Any]:
    """`display_settings_form()` for the account page's section, filled with the account's settings."""

    def display_settings_form() -> DisplaySettingsForm:
        settings = _display(int(current_user.id)).settings
        form = DisplaySettingsForm(prefix="display", formdata=None).fill_choices()
        form.locale.data, form.time_zone.data = settings.locale, settings.time_zone
        form.currency.data = settings.currency or ""
        return form

    return {"display_settings_form": display_settings_form}


@blueprint.post("/account/display")
@login_required
@inject
def change_display_settings(accounts: Accounts = Provide["services.accounts"]) -> Any:
    form = DisplaySettingsForm(prefix="display").fill_choices()
    if form.validate_on_submit():
        try:
            settings = DisplaySettings(form.locale.data, form.time_zone.data, form.currency.data or None)
        except InvalidDisplaySettings:
            flash("That choice is not one we know. Pick a language, time zone and currency from the lists.", "error")
        else:
            accounts.change_display_settings(int(current_user.id), settings)
            flash("Saved: your pages now show money and times this way.", "success")
            return redirect(url_for("auth.account") + "#display-settings")
    else:
        flash("That choice is not one we know. Pick a language, time zone and currency from the lists.", "error")
    return redirect(url_for("auth.account") + "#display-settings")


@blueprint.get("/dashboard/purchases/<int:purchase_id>")
@login_required
@reports_access
@inject
def purchase(purchase_id: int, reports: Reports = Provide["services.reports"]) -> str:
    detail = reports.purchase(int(current_user.id), purchase_id)
    if detail is None:
        abort(404, description="No purchase with this id in your account.")
    count_use(int(current_user.id), Feature.PURCHASE_DRILL_DOWN)
    return render_template("dashboard/purchase.html", detail=detail, **_helpers(_display(int(current_user.id))))
