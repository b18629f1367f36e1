"""The lab's own features, each a plugin module registered like any third-party plugin."""
