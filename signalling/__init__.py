"""The WebSocket protocol, connection registry, presence and WebRTC relay."""
