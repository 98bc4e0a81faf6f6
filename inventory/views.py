def room_type_detail(request, slug, room_type_slug):
    raise NotImplementedError
