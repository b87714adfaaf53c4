from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('assistants', '0004_conversations'),
    ]

    operations = [
        migrations.AddField(
            model_name='assistant',
            name='allowed_origins',
            field=models.JSONField(blank=True, default=list),
        ),
    ]
