"""Stage 5, serving: the `Guide` facade (model + catalogue), its plain results, search, the store,
personas and the shop service the UI calls. Nothing here is imported eagerly: the UI imports only the
torch-free modules (views, shop, personas, store)."""
