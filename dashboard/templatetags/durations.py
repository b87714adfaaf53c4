"""Durations for people: ``{{ seconds|duration }}`` → "3 s", "4.5 min", "2.1 h"."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 90:
        return _("%(n)s s") % {"n": number_format(round(seconds, 1), decimal_pos=1 if seconds < 10 else 0)}
    if seconds < 90 * 60:
        return _("%(n)s min") % {"n": number_format(round(seconds / 60, 1), decimal_pos=1)}
    if seconds < 48 * 3600:
        return _("%(n)s h") % {"n": number_format(round(seconds / 3600, 1), decimal_pos=1)}
    return _("%(n)s days") % {"n": number_format(round(seconds / 86400, 1), decimal_pos=1)}


@register.filter
def percent(rate) -> str:
    return "–" if rate is None else f"{number_format(round(rate * 100, 1), decimal_pos=1)} %"
