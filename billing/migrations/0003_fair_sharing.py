"""Plan limits for sharing the model servers: answers in flight, queue weight, vLLM priority and
messages per minute, seeded per plan. Later changes happen in the admin (plans are data)."""

from django.db import migrations, models

SEEDS = {
    "free": {"answers_in_flight": 4, "share_weight": 1, "inference_priority": 2, "messages_per_minute": 20},
    "starter": {"answers_in_flight": 16, "share_weight": 2, "inference_priority": 1, "messages_per_minute": 60},
    "pro": {"answers_in_flight": 64, "share_weight": 4, "inference_priority": 0, "messages_per_minute": 240},
}


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for code, values in SEEDS.items():
        Plan.objects.filter(code=code).update(**values)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_seed_plans")]

    operations = [
        migrations.AddField(
            model_name="plan", name="answers_in_flight",
            field=models.PositiveIntegerField(
                default=8, help_text="Answers generated at once for one business, across all web processes; more "
                                     "wait their turn.")),
        migrations.AddField(
            model_name="plan", name="share_weight",
            field=models.PositiveSmallIntegerField(
                default=1, help_text="Turns in the queue when the model servers are full: weight 2 is served twice "
                                     "as often as weight 1.")),
        migrations.AddField(
            model_name="plan", name="inference_priority",
            field=models.IntegerField(
                default=0, help_text="vLLM request priority (lower is earlier); sent only with "
                                     "INFERENCE_PRIORITY_SCHEDULING.")),
        migrations.AddField(
            model_name="plan", name="messages_per_minute",
            field=models.PositiveIntegerField(
                default=60, help_text="Customer messages a minute for the whole business (0: no limit); beyond it "
                                      "429.")),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
