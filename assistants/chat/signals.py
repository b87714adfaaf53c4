"""What happens to a conversation, for the channels (and other parts) to act on.

Chat imports no channel: a channel connects receivers to these signals (the WhatsApp channel in
``AssistantsConfig.ready``; unanswered questions too), so adding one changes nothing here. They
are sent inside the transaction that made the change (where there is one); a receiver that queues work does it with
``transaction.on_commit`` (``config.tasks.enqueue_on_commit``), so rolled-back work queues nothing.
"""

from __future__ import annotations

from django.dispatch import Signal

# A conversation went to ``handoff`` through ``conversation_set_state``, once per handoff.
# Arguments: ``conversation``; ``notice``, the system message that told a widget or API customer
# who will reply, or None where the conversation's channel tells its customer itself.
handoff_started = Signal()

# An assistant answer was saved complete (``answer_complete``), with its ``grounding``. Arguments:
# ``answer``. Sent outside any transaction (the answer is committed already).
answer_completed = Signal()

# A person of the business wrote to the customer (``staff_message_send``). Arguments:
# ``conversation``, ``message``.
staff_message_sent = Signal()

# A customer or the business rated an assistant answer, changed its rating or removed it
# (``message_rate`` in assistants/chat/feedback.py), once per change. Arguments: ``message``,
# the answer as saved (its ``rating_comment``, and ``reply_to``, the question it answered);
# ``rating``, "up", "down" or None when removed; ``previous``, the rating before ("up", "down"
# or None). Unanswered questions and analytics subscribe; chat imports neither.
answer_rated = Signal()
