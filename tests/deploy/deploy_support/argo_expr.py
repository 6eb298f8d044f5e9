"""A tiny evaluator for the subset of expr-lang (github.com/expr-lang/expr) that Argo Rollouts analysis
conditions use: numbers, booleans, `result`, `result[i]`, len(), isNaN(), isInf(), arithmetic,
comparisons, `!`/`not`, and short-circuit `&&`/`||`/`and`/`or`.

It mirrors the runtime behaviour the templates rely on: indexing an empty result raises (Argo records
the measurement as Error), `&&` stops at the first false operand (which is what makes the
`len(result) > 0 && ...` guard work), and NaN compares false with everything, as in Go.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


class ExprError(Exception):
    """A compile or runtime error; Argo turns either into an Error measurement."""


TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.\d*|\.\d+|\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[<>!()\[\],+\-*/]))"
)
BINARY_PRECEDENCE = {
    "||": 1, "or": 1,
    "&&": 2, "and": 2,
    "==": 3, "!=": 3,
    "<": 4, "<=": 4, ">": 4, ">=": 4,
    "+": 5, "-": 5,
    "*": 6, "/": 6,
}
UNARY_PRECEDENCE = 7


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    source = source.rstrip()
    while position < len(source):
        match = TOKEN.match(source, position)
        if not match or match.end() == position:
            raise ExprError(f"unexpected character at {position}: {source[position:position + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


Node = tuple[Any, ...]


class Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def take(self, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or (text is not None and token.text != text):
            raise ExprError(f"expected {text or 'a token'}, got {token.text if token else 'end of input'}")
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.expression(0)
        if self.peek() is not None:
            raise ExprError(f"unexpected {self.peek()!r}")
        return node

    def expression(self, min_precedence: int) -> Node:
        left = self.unary()
        while (token := self.peek()) is not None and BINARY_PRECEDENCE.get(token.text, 0) > min_precedence:
            self.take()
            right = self.expression(BINARY_PRECEDENCE[token.text])
            left = ("binary", token.text, left, right)
        return left

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token.text in ("!", "not", "-"):
            self.take()
            return ("unary", token.text, self.expression(UNARY_PRECEDENCE))
        return self.postfix(self.primary())

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return ("literal", float(token.text) if "." in token.text else int(token.text))
        if token.text == "(":
            node = self.expression(0)
            self.take(")")
            return node
        if token.kind == "name":
            if token.text in ("true", "false"):
                return ("literal", token.text == "true")
            return ("name", token.text)
        raise ExprError(f"unexpected {token.text!r}")

    def postfix(self, node: Node) -> Node:
        while (token := self.peek()) is not None and token.text in ("(", "["):
            self.take()
            if token.text == "[":
                node = ("index", node, self.expression(0))
                self.take("]")
            else:
                arguments: list[Node] = []
                if not self.at(")"):
                    arguments.append(self.expression(0))
                    while self.at(","):
                        self.take(",")
                        arguments.append(self.expression(0))
                self.take(")")
                node = ("call", node, arguments)
        return node


def number(value: Any, operator: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExprError(f"invalid operation: {operator} on {type(value).__name__}")
    return float(value)


def evaluate(node: Node, env: dict[str, Any]) -> Any:
    kind = node[0]
    if kind == "literal":
        return node[1]
    if kind == "name":
        if node[1] not in env:
            raise ExprError(f"unknown name {node[1]}")
        return env[node[1]]
    if kind == "index":
        container, position = evaluate(node[1], env), evaluate(node[2], env)
        if not isinstance(container, Sequence) or isinstance(container, str):
            raise ExprError(f"cannot index {type(container).__name__}")
        if not isinstance(position, int) or not 0 <= position < len(container):
            raise ExprError(f"index out of range: {position} (array length is {len(container)})")
        return container[position]
    if kind == "call":
        function: Callable[..., Any] = evaluate(node[1], env)
        return function(*(evaluate(argument, env) for argument in node[2]))
    if kind == "unary":
        operand = evaluate(node[2], env)
        if node[1] == "-":
            return -number(operand, "-")
        if not isinstance(operand, bool):
            raise ExprError(f"invalid operation: ! on {type(operand).__name__}")
        return not operand
    return binary(node[1], node[2], node[3], env)


def binary(operator: str, left_node: Node, right_node: Node, env: dict[str, Any]) -> Any:
    left = evaluate(left_node, env)
    if operator in ("&&", "and", "||", "or"):
        if not isinstance(left, bool):
            raise ExprError(f"invalid operation: {operator} on {type(left).__name__}")
        if (operator in ("&&", "and")) != left:  # false && ... / true || ... short-circuit
            return left
        right = evaluate(right_node, env)
        if not isinstance(right, bool):
            raise ExprError(f"invalid operation: {operator} on {type(right).__name__}")
        return right
    right = evaluate(right_node, env)
    if operator in ("==", "!="):
        equal = left == right
        return equal if operator == "==" else not equal
    a, b = number(left, operator), number(right, operator)
    operations: dict[str, Callable[[float, float], Any]] = {
        "<": lambda x, y: x < y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y,
        "+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
        "/": lambda x, y: x / y if y else math.copysign(math.inf, x) if x else math.nan,
    }
    return operations[operator](a, b)


def argo_environment(result: Any) -> dict[str, Any]:
    """The names Argo's EvalCondition provides (utils/evaluate/evaluate.go), minus the string helpers."""
    return {
        "result": result,
        "len": lambda value: len(value),
        "isNaN": lambda value: math.isnan(number(value, "isNaN")),
        "isInf": lambda value: math.isinf(number(value, "isInf")),
    }


def eval_condition(condition: str, result: Any) -> bool:
    """Evaluate an Argo success/failure condition; raises ExprError where Argo would error."""
    outcome = evaluate(Parser(tokenize(condition)).parse(), argo_environment(result))
    if not isinstance(outcome, bool):
        raise ExprError(f"expected bool, but got {type(outcome).__name__}")
    return outcome
