from django import template
from django.template.base import token_kwargs

from caching import fragments

register = template.Library()


class FragmentNode(template.Node):
    def __init__(self, template_name, values, *, shared: bool = False) -> None:
        self.template_name = template_name
        self.values = values
        self.shared = shared

    def render(self, context) -> str:
        values = {name: value.resolve(context) for name, value in self.values.items()}
        return fragments.render(
            self.template_name.resolve(context), values, context, shared=self.shared
        )


@register.tag
def fragment(parser, token):
    """Render a template from the given values alone, memoised by them (caching.fragments).

    ``{% fragment "hotel/_cities.html" cities=cities %}``, with an
    explicit memo key: ``{% fragment "x.html" key=k form=form %}``, or kept
    in Redis for every process too: ``{% fragment "x.html" shared card=card %}``.
    """
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(f"{bits[0]} takes a template name and name=value pairs.")
    shared = len(bits) > 2 and bits[2] == "shared"
    pairs = bits[3:] if shared else bits[2:]
    expected = len(pairs)
    # token_kwargs consumes the list it is given.
    values = token_kwargs(pairs, parser, support_legacy=False)
    if len(values) != expected:
        raise template.TemplateSyntaxError(f"{bits[0]} takes name=value pairs after the name.")
    return FragmentNode(parser.compile_filter(bits[1]), values, shared=shared)


@register.simple_tag(takes_context=True)
def filled(context, pieces):
    """Output pieces from caching.fragments.render_pieces with this request's values filled in."""
    return fragments.fill(pieces, context)


@register.filter
def field_key(field):
    """The memo key of one field's fragment (caching.fragments.field_key).

    ``{% fragment "field.html" key=field|field_key field=field %}``
    """
    return fragments.field_key(field)
