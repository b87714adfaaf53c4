from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from pgvector.django import VectorField

from assistants.analytics import buckets
from businesses.tenancy import TenantManager, TenantModel


class Assistant(TenantModel):
    """A business's assistant: who it is, how it talks, when humans are around."""

    class Tone(models.TextChoices):
        FRIENDLY = "friendly"
        PROFESSIONAL = "professional"
        CONCISE = "concise"
        PLAYFUL = "playful"

    class WidgetPosition(models.TextChoices):
        RIGHT = "right"
        LEFT = "left"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=80)
    persona = models.TextField(blank=True, help_text="Who the assistant is, in a few sentences.")
    instructions = models.TextField(blank=True, help_text="Rules the assistant must follow.")
    greeting = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=16, default="en", help_text="Default language (BCP 47, e.g. 'en', 'zh').")
    tone = models.CharField(max_length=16, choices=Tone.choices, default=Tone.FRIENDLY)
    # {"mon": [["11:30", "14:30"], ["18:00", "22:00"]], ...}; a missing day is closed.
    business_hours = models.JSONField(default=dict, blank=True)
    # Dated exceptions to business_hours, in the business's time zone:
    # [{"date": "2026-12-25", "closed": true, "note": "Christmas"},
    #  {"date": "2026-12-31", "hours": [["12:00", "16:00"]], "note": "New Year's Eve"}].
    hours_exceptions = models.JSONField(default=list, blank=True)
    handoff_message = models.CharField(max_length=500, blank=True)
    temperature = models.FloatField(default=0.3, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)])
    max_answer_tokens = models.PositiveIntegerField(
        default=400, validators=[MinValueValidator(16), MaxValueValidator(4096)]
    )
    model_override = models.CharField(max_length=200, blank=True)
    # Web origins ("https://example.com") whose pages may embed the chat widget; empty: any.
    allowed_origins = models.JSONField(default=list, blank=True)
    # The web widget's look (docs/widget.md); the script tag's data-* attributes override them.
    widget_color = models.CharField(
        max_length=7, default="#1d4ed8",
        validators=[RegexValidator(r"^#[0-9a-f]{6}\Z", "Expected a colour like '#1d4ed8' (# and six hex digits).")],
        help_text="Accent colour of the web widget, '#rrggbb'.")
    widget_position = models.CharField(max_length=5, choices=WidgetPosition.choices, default=WidgetPosition.RIGHT,
                                       help_text="Corner of the page the web widget sits in.")
    widget_launcher_text = models.CharField(
        max_length=40, blank=True,
        help_text="Text on the widget's launcher button; empty: a round chat bubble.")

    objects = TenantManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "slug"], name="assistant_business_slug_unique")]
        indexes = [models.Index(fields=["business", "-created_at"], name="assistant_business_created")]

    def __str__(self) -> str:
        return self.name


class KnowledgeSource(TenantModel):
    """One thing the owner taught the assistant: a text, an FAQ, a file or a website."""

    class Kind(models.TextChoices):
        TEXT = "text"
        FAQ = "faq"
        FILE = "file"
        URL = "url"
        CATALOG = "catalog"  # the items an owner added over the API (one such source per assistant)

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"
        # Processed, but the new version would make a passing knowledge test fail: it waits for
        # the owner to publish or discard it (SourceReview), and the old version keeps serving.
        NEEDS_REVIEW = "needs_review"

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    title = models.CharField(max_length=300)
    # The input, as given: text for "text", pairs for "faq", the URL for "url";
    # a file's bytes live in SourceFile so that listing sources never loads them.
    text = models.TextField(blank=True)
    faq_pairs = models.JSONField(default=list, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    crawl = models.BooleanField(default=False)
    max_pages = models.PositiveIntegerField(default=1)
    file_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    items_count = models.PositiveIntegerField(default=0)  # catalog items this source holds
    # sha256 of the extracted text the current chunks came from.
    content_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    # The worker processing the source writes now() here every INGEST_HEARTBEAT_SECONDS; a
    # "processing" source whose heartbeat stopped lost its worker, and the sweep re-queues it.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the work was last handed to a worker; the sweep re-queues what no worker took.
    queued_at = models.DateTimeField(null=True, blank=True)
    # The content now serving, kept when a resync brings new content and until the new version is
    # published: what "discard" puts back ({"text", "faq_pairs", "file_name", "content_type"};
    # a file's bytes in SourceFile.previous_data).
    previous_input = models.JSONField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["assistant", "-created_at"], name="source_assistant_created"),
            models.Index(fields=["status", "processing_started_at"], name="source_status_started"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.kind}, {self.status})"


class SourceFile(TenantModel):
    """An uploaded file, stored in PostgreSQL: committed with its source row before any worker
    runs, and readable by every worker without a shared disk."""

    source = models.OneToOneField(KnowledgeSource, on_delete=models.CASCADE, related_name="upload")
    data = models.BinaryField()
    previous_data = models.BinaryField(null=True, blank=True)  # the file now serving, until a new one is published

    objects = TenantManager()


class Chunk(TenantModel):
    """A passage of a source, with its embedding and its full-text vector.

    ``embedding`` has no fixed dimension so a model change cannot mix vectors in
    one index: each chunk records its model and dimension, and the ANN index is a
    partial expression index per dimension (migration 0003). ``search_vector`` is
    written by the ingestion pipeline (CJK text expanded into bigrams first) and
    indexed with GIN; it is never computed at query time.
    """

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(KnowledgeSource, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    heading = models.CharField(max_length=300, blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    token_count = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    embedding = VectorField()
    embedding_model = models.CharField(max_length=200)
    embedding_dim = models.PositiveSmallIntegerField()
    search_config = models.CharField(max_length=32, default="simple")
    search_vector = SearchVectorField(null=True)
    # The catalog item this passage renders as a sentence (one passage per item), if any.
    catalog_item = models.ForeignKey("CatalogItem", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="chunks")

    objects = TenantManager()

    class Meta:
        indexes = [
            # Exact search for small assistants: this btree, then a distance sort.
            models.Index(fields=["assistant", "embedding_dim"], name="chunk_assistant_dim"),
            models.Index(fields=["source", "ordinal"], name="chunk_source_ordinal"),
            models.Index(fields=["assistant", "content_hash"], name="chunk_assistant_hash"),
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
        ]


class CatalogItem(TenantModel):
    """One dish or product, typed: the values that decide every answer about its price,
    allergens, diet and availability (DESIGN.md "Answers: grounded or handed off").

    Unknown is not "no": ``allergens`` is None when the source says nothing about allergens
    (an allergen question about the item is then handed to a person), and ``dietary`` holds
    only the tags the source states, true or false.
    """

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="catalog_items")
    source = models.ForeignKey(KnowledgeSource, on_delete=models.CASCADE, related_name="catalog_items")
    ordinal = models.PositiveIntegerField(default=0)  # the row's place in its source
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)  # ISO 4217; blank: not stated
    # Canonical names of the 14 EU allergens (assistants/catalog/allergens.py); None: unknown.
    allergens = models.JSONField(null=True, blank=True)
    allergens_other = models.JSONField(default=list, blank=True)  # free text beyond the 14
    # {"vegetarian": true, "vegan": false, "gluten_free": true, "halal": true, ...}: stated tags only.
    dietary = models.JSONField(default=dict, blank=True)
    spice_level = models.PositiveSmallIntegerField(null=True, blank=True)  # 0 (mild) to 5
    # [{"name": "large", "price_delta": "2.00"}, ...]
    options = models.JSONField(default=list, blank=True)
    available = models.BooleanField(default=True)  # false: sold out
    available_until = models.DateTimeField(null=True, blank=True)  # after this, not available
    extra = models.JSONField(default=dict, blank=True)  # the source's other columns

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["assistant", "-created_at"], name="catalog_assistant_created"),
            models.Index(fields=["source", "ordinal"], name="catalog_source_ordinal"),
        ]

    def __str__(self) -> str:
        return self.name


class Conversation(TenantModel):
    """One customer talking to one assistant on one channel."""

    class Channel(models.TextChoices):
        API = "api"
        WIDGET = "widget"
        WHATSAPP = "whatsapp"
        OPENAI = "openai"
        PLAYGROUND = "playground"  # the owner trying questions in the dashboard; not in the inbox

    class State(models.TextChoices):
        BOT = "bot"
        HANDOFF = "handoff"
        CLOSED = "closed"

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.API)
    external_id = models.CharField(max_length=200, blank=True, help_text="The customer's id on the channel.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.BOT)
    # For publishable-key callers: a keyed hash of the token that proves "this is my conversation".
    customer_token_hash = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # The first time a person took the conversation over (analytics: handoffs and staff reply
    # times); a later release and handoff keeps it.
    handed_off_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["business", "state", "-created_at"], name="conversation_inbox"),
            models.Index(fields=["assistant", "channel", "external_id"], name="conversation_external"),
            # One customer's conversations (export, erasure) and the retention sweep's cut.
            models.Index(fields=["business", "external_id"], name="conversation_customer"),
            models.Index(fields=["business", "last_message_at"], name="conversation_last_message"),
            # Analytics' handoffs of a day.
            models.Index(fields=["business", "handed_off_at"], condition=models.Q(handed_off_at__isnull=False),
                         name="conversation_handed_off"),
        ]


class Message(TenantModel):
    class Role(models.TextChoices):
        CUSTOMER = "customer"
        ASSISTANT = "assistant"
        STAFF = "staff"
        SYSTEM = "system"

    class Status(models.TextChoices):
        PENDING = "pending"  # the answer is being generated
        COMPLETE = "complete"
        FAILED = "failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    # [{"source_id", "source_title", "chunk_id"}]
    citations = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETE)
    error = models.TextField(blank=True)
    backend = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=200, blank=True)

    class Grounding(models.TextChoices):
        CATALOG = "catalog"  # composed from the typed catalog
        HOURS = "hours"  # composed from the structured business hours
        PASSAGES = "passages"  # from knowledge passages that answer the question
        NONE = "none"  # the handoff answer: nothing in the knowledge answers it

    # What an assistant answer rests on; blank for other roles.
    grounding = models.CharField(max_length=10, choices=Grounding.choices, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    # The customer message an assistant message answers.
    reply_to = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="answer")
    # NULL, not "": the unique constraint applies only to messages sent with a key.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001

    class Rating(models.TextChoices):
        UP = "up"  # helpful
        DOWN = "down"  # not helpful

    # Feedback on an assistant answer (assistants/chat/feedback.py): one per answer, replaced by
    # a later one; blank and NULL when unrated.
    rating = models.CharField(max_length=4, choices=Rating.choices, blank=True)
    rating_comment = models.CharField(max_length=1000, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_conversation_created"),
            # Analytics' ratings of a day (a rating is counted on the day it was given).
            models.Index(fields=["business", "rated_at"], condition=models.Q(rated_at__isnull=False),
                         name="message_rated"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "idempotency_key"],
                                    condition=models.Q(idempotency_key__isnull=False),
                                    name="message_idempotency_unique"),
        ]


# --------------------------------------------------------------------------- WhatsApp channel
# assistants/channels/whatsapp/ (docs/whatsapp.md).


class WhatsAppConnection(TenantModel):
    """A business's WhatsApp Cloud API phone number, answered by one assistant."""

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="whatsapp_connections")
    # Meta's id of the business phone number; deliveries name it in value.metadata.phone_number_id.
    phone_number_id = models.CharField(max_length=64, unique=True)
    display_phone_number = models.CharField(max_length=32, blank=True)
    # Fernet token (assistants/channels/whatsapp/crypto.py); the plain token is never stored or returned.
    access_token_encrypted = models.TextField()
    # Digits only (Meta's wa_id form): the owner's own WhatsApp, which receives handoff alerts.
    owner_whatsapp = models.CharField(max_length=20, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["business", "-created_at"], name="wa_connection_business")]


class WhatsAppDelivery(models.Model):
    """One webhook POST from Meta, stored raw once its signature checks out. Not tenant-owned:
    a delivery may name a number nobody connected; its messages are split into WhatsAppInbound."""

    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"WhatsApp delivery {self.pk} ({self.received_at:%Y-%m-%d %H:%M})"


class WhatsAppInbound(TenantModel):
    """A message Meta delivered (from a customer or the owner). Meta redelivers: the unique
    WhatsApp message id makes a second delivery a no-op."""

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSING = "processing"
        RETRYING = "retrying"  # the model server failed; the task runs again
        PROCESSED = "processed"
        FAILED = "failed"

    connection = models.ForeignKey(WhatsAppConnection, on_delete=models.CASCADE, related_name="inbound")
    delivery = models.ForeignKey(WhatsAppDelivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    wa_message_id = models.CharField(max_length=200, unique=True)
    sender = models.CharField(max_length=32)  # wa_id
    sender_name = models.CharField(max_length=200, blank=True)  # the WhatsApp profile name
    type = models.CharField(max_length=32)
    text = models.TextField(blank=True)
    context_id = models.CharField(max_length=200, blank=True, help_text="The message this one replies to.")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["connection", "-created_at"], name="wa_inbound_connection")]


class WhatsAppOutbound(TenantModel):
    """A message sent (or being sent) through the Graph API, with its delivery status.

    ``(inbound, purpose)`` is unique, so a task that runs twice for one inbound message finds
    the first send instead of messaging the customer again."""

    class Purpose(models.TextChoices):
        ANSWER = "answer"  # the assistant's answer
        NOTICE = "notice"  # a channel notice: unsupported type, handoff, unavailable, hours
        STAFF = "staff"  # a person's reply relayed to the customer
        OWNER_ALERT = "owner_alert"  # "a customer needs you" to the owner, with the code
        OWNER_HELP = "owner_help"  # the owner's reply could not be matched to a conversation
        COMMAND = "command"  # the confirmation of an owner's command ("sold out mapo tofu")
        DIGEST = "digest"  # the weekly digest's numbers, to the owner
        DIGEST_TOPIC = "digest_topic"  # one unanswered topic of the digest; a reply to it answers it

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"

    connection = models.ForeignKey(WhatsAppConnection, on_delete=models.CASCADE, related_name="outbound")
    inbound = models.ForeignKey(WhatsAppInbound, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    to = models.CharField(max_length=32)
    text = models.TextField()
    handoff_code = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # NULL until Meta accepted it (unique only among sent messages).
    wa_message_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The weekly digest this message is part of, and the unanswered topic it shows: the owner's
    # reply to it (``context.id`` = this row's ``wa_message_id``) answers that topic.
    digest = models.ForeignKey("OwnerDigest", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    topic = models.ForeignKey("UnansweredTopic", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["connection", "handoff_code"], name="wa_outbound_code"),
            models.Index(fields=["conversation", "-created_at"], name="wa_outbound_conversation"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["inbound", "purpose"], condition=models.Q(inbound__isnull=False),
                                    name="wa_outbound_once_per_inbound"),
            # A digest's summary once, and each of its topics once (a rerun never resends them).
            models.UniqueConstraint(fields=["digest", "purpose", "topic"], nulls_distinct=False,
                                    condition=models.Q(digest__isnull=False), name="wa_outbound_once_per_digest"),
        ]


class HandoffEmail(TenantModel):
    """One handoff notification that reached the outgoing mail server, per recipient.

    A row per (conversation, handoff, address), written right after the server accepted the
    mail: a retried or redelivered task skips whoever has a row (a worker that dies between the
    server's 250 and the row resends that one mail: at least once, never silently lost). A table
    rather than a key in ``Conversation.metadata``: other code rewrites metadata whole from the
    object it holds (the handoff reason), which could drop the record."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    # The moment the conversation went to handoff (its ``updated_at`` in that UPDATE): it tells a
    # later handoff of the same conversation, which notifies again, from a retry of this one.
    handoff_at = models.DateTimeField()
    recipient = models.EmailField(help_text="Lower-cased: addresses are compared without case.")

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "handoff_at", "recipient"],
                                    name="handoff_email_once_per_recipient"),
        ]


# --------------------------------------------------------------------------- unanswered questions
# assistants/unanswered/ (docs/unanswered.md).


class UnansweredTopic(TenantModel):
    """Questions of one assistant that mean the same thing and that it could not answer, grouped
    by embedding similarity. The owner answers a topic once (an FAQ), which closes it."""

    class Status(models.TextChoices):
        OPEN = "open"
        ANSWERED = "answered"

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="unanswered_topics")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The running mean of the questions' unit vectors, re-normalised: what a new question is
    # compared with. No fixed dimension (like Chunk): a topic is compared only with questions
    # embedded by the same model.
    centroid = VectorField()
    embedding_model = models.CharField(max_length=200)
    embedding_dim = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField(default=0)  # questions merged into the centroid
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    faq_source = models.ForeignKey(KnowledgeSource, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["assistant", "status", "-count", "-last_seen"], name="unanswered_topic_rank"),
        ]


class UnansweredQuestion(TenantModel):
    """One customer question the assistant did not answer well: its answer had grounding none,
    a person took the conversation over, or the customer rated the answer down.

    ``(message, reason)`` is unique, so the collection task can run twice. The question's text is
    read from ``message`` (not copied), so erasing a conversation erases its questions too.
    ``topic`` is empty until the question was embedded (the embedding server may be down)."""

    class Reason(models.TextChoices):
        NO_ANSWER = "no_answer"
        HANDOFF = "handoff"
        THUMBS_DOWN = "thumbs_down"

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+",
                                help_text="The customer's message: the question.")
    answer = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="The assistant's answer to it, if it got one.")
    topic = models.ForeignKey(UnansweredTopic, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="questions")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    asked_at = models.DateTimeField()  # the customer message's time

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["topic", "-asked_at"], name="unanswered_question_topic"),
            models.Index(fields=["assistant"], condition=models.Q(topic__isnull=True),
                         name="unanswered_question_ungrouped"),
            # Analytics' top topics of a date range.
            models.Index(fields=["assistant", "asked_at"], name="unanswered_question_asked"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["message", "reason"], name="unanswered_question_once_per_reason"),
        ]


class KnowledgeTest(TenantModel):
    """A question whose answer must keep saying (or never say) certain facts, or must be handed
    to a person: checked on demand and before every new version of a source replaces the old
    (assistants/regression/). An empty ``must_contain`` without ``must_hand_off``: it must be
    answered, not handed off."""

    class Origin(models.TextChoices):
        OWNER = "owner"  # written by the owner (API or dashboard)
        TOPIC = "topic"  # an example question of an unanswered topic the owner answered
        CORRECTION = "correction"  # a question a staff member answered in the inbox

    class Result(models.TextChoices):
        NOT_RUN = ""
        PASSED = "passed"
        FAILED = "failed"

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="knowledge_tests")
    question = models.CharField(max_length=1000)
    must_contain = models.JSONField(default=list, blank=True)
    must_not_contain = models.JSONField(default=list, blank=True)
    must_hand_off = models.BooleanField(default=False)
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.OWNER)
    topic = models.ForeignKey(UnansweredTopic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The customer's message the question was taken from (a topic's example question, the question
    # a staff reply answered): the question is that customer's words, so erasing the message
    # (assistants/privacy/) erases the test. Empty when the question is the owner's or staff's own.
    source_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    last_result = models.CharField(max_length=8, choices=Result.choices, default=Result.NOT_RUN, blank=True)
    last_answer = models.TextField(blank=True)
    last_grounding = models.CharField(max_length=10, blank=True)
    last_reason = models.CharField(max_length=500, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["assistant", "created_at"], name="knowledge_test_assistant")]


class KnowledgeTestRun(TenantModel):
    """One run of an assistant's knowledge tests, asked for by the owner (a Celery task)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # [{"test_id", "question", "passed", "answer", "grounding", "reason"}]
    results = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()


class SourceReview(TenantModel):
    """A processed version of a source held back because knowledge tests that pass now would fail
    with it: everything needed to publish it without processing it again (passages, vectors,
    catalog items), and the tests it breaks with the answers before and after."""

    source = models.OneToOneField(KnowledgeSource, on_delete=models.CASCADE, related_name="review")
    embedding_model = models.CharField(max_length=200)
    # [{"text", "token_count", "content_hash", "heading", "page"}] and one vector per passage
    drafts = models.JSONField(default=list)
    vectors = models.JSONField(default=list)
    catalog_items = models.JSONField(null=True, blank=True)  # a menu file's items (field values)
    item_ids = models.JSONField(null=True, blank=True)  # an API catalog's existing items, by passage
    warnings = models.JSONField(default=list, blank=True)
    # [{"test_id", "question", "reason", "answer_before", "answer_after"}]
    failures = models.JSONField(default=list)

    objects = TenantManager()


# --------------------------------------------------------------------------- the owner's phone
# assistants/channels/owner/ (docs/whatsapp.md "The owner's phone").


class OwnerDigest(TenantModel):
    """One weekly digest of a business: the row is written before anything is sent, and
    ``(business, week)`` is unique, so a digest is never sent twice (a worker that dies between
    the row and the sends loses that week's digest rather than repeating it)."""

    week = models.DateField(help_text="The local Monday of the week in which it is sent.")
    period_start = models.DateTimeField()  # the 7 days it covers, [start, end)
    period_end = models.DateTimeField()
    numbers = models.JSONField(default=dict)  # assistants/channels/owner/selectors.py week_numbers
    topic_ids = models.JSONField(default=list)  # the unanswered topics it lists, most asked first
    # "session" (WhatsApp text), "template" (outside the 24-hour window), "failed", "skipped" (no
    # owner number, or no template configured outside the window).
    whatsapp = models.CharField(max_length=10, blank=True)
    emailed_to = models.JSONField(default=list)  # the addresses the mail server accepted
    # Sent because the owner texted "digest" (docs/whatsapp.md): the 7 days up to that moment,
    # on WhatsApp only. One per such message (``requested_by`` is unique); the weekly digest is
    # one per week among the rows that are not requested.
    requested = models.BooleanField(default=False)
    requested_by = models.OneToOneField("WhatsAppInbound", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")

    objects = TenantManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "week"], condition=models.Q(requested=False),
                                               name="owner_digest_once_per_week")]


# --------------------------------------------------------------------------- analytics
# assistants/analytics/ (docs/analytics.md).


class AnalyticsDay(TenantModel):
    """One assistant's day on one channel, added up: what the analytics report reads, so a year
    is one index range of at most 366 rows per channel. Recomputed whole from the messages by
    ``analytics_rollup`` (celery beat keeps yesterday and today fresh).

    ``day`` is a date in the business's time zone. Durations are not averaged but counted into
    fixed log-scale buckets (assistants/analytics/buckets.py), so a median over any set of days
    is the median of the summed buckets."""

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    channel = models.CharField(max_length=10, choices=Conversation.Channel.choices)
    conversations = models.PositiveIntegerField(default=0)  # started this day
    customer_messages = models.PositiveIntegerField(default=0)
    answers_catalog = models.PositiveIntegerField(default=0)
    answers_hours = models.PositiveIntegerField(default=0)
    answers_passages = models.PositiveIntegerField(default=0)
    answers_none = models.PositiveIntegerField(default=0)  # the handoff answer
    handoffs = models.PositiveIntegerField(default=0)  # conversations first taken over by a person this day
    thumbs_up = models.PositiveIntegerField(default=0)  # ratings given this day
    thumbs_down = models.PositiveIntegerField(default=0)
    staff_replies = models.PositiveIntegerField(default=0)
    # Bucket counts (assistants/analytics/buckets.py): seconds from a conversation's first
    # customer message to its first answer; seconds a customer waited for a person's reply.
    first_answer_buckets = ArrayField(models.IntegerField(), default=buckets.zeros)
    staff_reply_buckets = ArrayField(models.IntegerField(), default=buckets.zeros)
    # Customer messages by hour of the day (0-23, the business's time zone).
    hours = ArrayField(models.IntegerField(), size=24, default=buckets.hour_zeros)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assistant", "day", "channel"], name="analytics_day_unique"),
        ]
        indexes = [models.Index(fields=["business", "assistant", "day"], name="analytics_day_range")]
