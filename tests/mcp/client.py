"""Drives the gateway's MCP server with the official MCP Python SDK.

Usage: client.py URL HEADERS_JSON CALLS_JSON
Connects over Streamable HTTP, lists every tool (following nextCursor),
makes each call in CALLS_JSON ([{"name": ..., "arguments": {...}}]) and
prints {"server": ..., "tools": [...], "calls": [...]} as JSON, for
tests/mcp.rs to check.
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, headers: dict, calls: list) -> dict:
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                tools, cursor = [], None
                while True:
                    params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
                    page = await session.list_tools(params=params)
                    tools.extend(t.model_dump(by_alias=True, exclude_none=True) for t in page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        break
                results = []
                for call in calls:
                    result = await session.call_tool(call["name"], call.get("arguments") or {})
                    results.append(result.model_dump(by_alias=True, exclude_none=True))
                return {
                    "server": init.model_dump(by_alias=True, exclude_none=True),
                    "tools": tools,
                    "calls": results,
                }


if __name__ == "__main__":
    url, headers, calls = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    print(json.dumps(asyncio.run(main(url, headers, calls))))
