"""Approximate (HNSW) index for 384-dimension embeddings, the local model's size.

A partial expression index per dimension, as pgvector documents for columns
that hold vectors of several sizes: queries cast to ``vector(384)`` and filter on
``embedding_dim = 384`` to use it. Another embedding model of dimension N needs
the same statement with N (see docs/knowledge.md).
"""

from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS chunk_embedding_384_hnsw ON assistants_chunk
USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dim = 384
"""


class Migration(migrations.Migration):
    dependencies = [("assistants", "0002_knowledge")]

    operations = [
        migrations.RunSQL(CREATE, reverse_sql="DROP INDEX IF EXISTS chunk_embedding_384_hnsw"),
    ]
