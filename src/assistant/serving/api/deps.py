"""Dependencies of the routes: the Assistant the lifespan loaded, from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistant.serving.assistant import Assistant


async def get_assistant(request: Request) -> Assistant:
    """`async`: a plain function would cost every request a hop through the threadpool."""
    return request.app.state.assistant  # type: ignore[no-any-return]


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
