from __future__ import annotations

from datetime import timedelta

from rest_framework import serializers

from assistants.analytics.selectors import INTERVALS

MAX_RANGE_DAYS = 366  # a year, leap years included: at most 366 rollup rows per assistant and channel
DEFAULT_RANGE_DAYS = 30


class AnalyticsQuerySerializer(serializers.Serializer):
    """``?assistant=&from=&to=&interval=``. Dates are in the business's time zone; ``to``
    defaults to today there, ``from`` to 29 days before ``to``."""

    assistant = serializers.UUIDField(required=False, help_text="One assistant; all of the business's when absent.")
    # ``from`` is a keyword: the field is declared under another name and renamed below.
    from_ = serializers.DateField(required=False, help_text="First day, YYYY-MM-DD (inclusive).")
    to = serializers.DateField(required=False, help_text="Last day, YYYY-MM-DD (inclusive).")
    interval = serializers.ChoiceField(choices=INTERVALS, default="day",
                                       help_text="Points of the series: days, or ISO weeks (Monday first).")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate(self, attrs):
        today = self.context["today"]
        end = attrs.get("to") or today
        start = attrs.get("from") or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if start > end:
            raise serializers.ValidationError({"from": ["'from' must be on or before 'to'."]})
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"to": [f"A report covers at most {MAX_RANGE_DAYS} days."]})
        return {**attrs, "from": start, "to": end}


class AnswersSerializer(serializers.Serializer):
    catalog = serializers.IntegerField(help_text="Composed from the typed catalog.")
    hours = serializers.IntegerField(help_text="Composed from the business hours.")
    passages = serializers.IntegerField(help_text="From knowledge passages.")
    none = serializers.IntegerField(help_text="The handoff answer: nothing in the knowledge answered.")


class FiguresSerializer(serializers.Serializer):
    conversations = serializers.IntegerField(help_text="Conversations started (playground ones left out).")
    customer_messages = serializers.IntegerField()
    answers = AnswersSerializer(help_text="Complete assistant answers by grounding.")
    handoffs = serializers.IntegerField(help_text="Conversations a person took over for the first time.")
    handoff_rate = serializers.FloatField(allow_null=True, help_text="handoffs / conversations; null without any.")
    thumbs_up = serializers.IntegerField(help_text="Ratings given in the period.")
    thumbs_down = serializers.IntegerField()
    thumbs_up_rate = serializers.FloatField(allow_null=True, help_text="thumbs_up / (thumbs_up + thumbs_down).")
    staff_replies = serializers.IntegerField(help_text="Messages people of the business sent.")
    median_first_answer_seconds = serializers.FloatField(
        allow_null=True, help_text="From a conversation's first customer message to its first answer (±19 %).")
    median_staff_reply_seconds = serializers.FloatField(
        allow_null=True, help_text="How long a customer waited for a person's reply (±19 %).")


class PeriodSerializer(FiguresSerializer):
    start = serializers.DateField(help_text="The day, or the Monday of the week.")


class ChannelSerializer(FiguresSerializer):
    channel = serializers.CharField()


class HourSerializer(serializers.Serializer):
    hour = serializers.IntegerField(min_value=0, max_value=23)
    customer_messages = serializers.IntegerField()


class TopicCountSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    question = serializers.CharField(allow_null=True, help_text="The newest wording asked.")
    status = serializers.CharField()
    count = serializers.IntegerField(help_text="Questions of the topic asked in the range.")


class AnalyticsReportSerializer(serializers.Serializer):
    assistant_id = serializers.UUIDField(allow_null=True)
    from_ = serializers.DateField()
    to = serializers.DateField()
    interval = serializers.ChoiceField(choices=INTERVALS)
    timezone = serializers.CharField(help_text="The business's time zone, in which days and hours are counted.")
    fresh_as_of = serializers.DateTimeField(allow_null=True, help_text="When the newest rollup row was computed.")
    totals = FiguresSerializer()
    series = PeriodSerializer(many=True)
    channels = ChannelSerializer(many=True)
    hours = serializers.ListField(child=serializers.IntegerField(), min_length=24, max_length=24,
                                  help_text="Customer messages by hour of the day, 0 to 23.")
    busiest_hours = HourSerializer(many=True)
    top_topics = TopicCountSerializer(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields
