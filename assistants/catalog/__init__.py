"""The typed catalog (menu, products): parsing uploaded files into CatalogItems, the items' API
services, and answering catalog questions by lookup (DESIGN.md "Answers: grounded or handed
off")."""
