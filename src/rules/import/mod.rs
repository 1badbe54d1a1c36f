//! Importers of models from other configuration tools (in progress).
